import { buildLnNet, randomLabelledPoints } from '../src/lnnet.js';
(globalThis as any).DBG = true;
const data = randomLabelledPoints(50, 3, 0);
try { buildLnNet(data, { seed: 0 }); } catch (e) { console.log((e as Error).message); }
