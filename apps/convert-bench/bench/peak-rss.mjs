// Preloaded with `node --import ./bench/peak-rss.mjs ...`: when the process exits, writes its peak
// resident memory to the file named by NORMKIT_PEAK_RSS_FILE as JSON { maxRssBytes, vmHwmBytes }.
// process.resourceUsage().maxRSS is in KiB; VmHWM (Linux) is the same peak read from /proc.
import { readFileSync, writeFileSync } from 'node:fs';

const file = process.env.NORMKIT_PEAK_RSS_FILE;
if (file)
  process.on('exit', () => {
    let vmHwmBytes = null;
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
      if (m) vmHwmBytes = Number(m[1]) * 1024;
    } catch {
      // not Linux: maxRSS only
    }
    writeFileSync(file, JSON.stringify({ maxRssBytes: process.resourceUsage().maxRSS * 1024, vmHwmBytes }));
  });
