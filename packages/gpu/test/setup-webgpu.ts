// Dawn (the `webgpu` package) finds no GPU on CI machines; chromium's SwiftShader Vulkan ICD gives
// it a software adapter. Set before any test file loads Dawn; tests skip WebGPU, saying why, without it.
import { existsSync } from 'node:fs';

/** Chromium's SwiftShader Vulkan driver manifest (Debian's chromium package). */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
// Dawn's Vulkan loader complains on stderr without it; harmless, but noisy.
process.env.XDG_RUNTIME_DIR ??= '/tmp';
