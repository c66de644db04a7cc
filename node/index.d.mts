// Types of the ES module entry (index.mjs): the declarations of index.d.ts, whose classes are
// the CommonJS entry's. TypeScript reads index.d.ts as CommonJS (the package has no
// "type": "module"), where a default import is the whole `module.exports`; this file gives
// `import FluidCloud from 'fluidcloud'` the class, as index.mjs does.
export * from './index.js';
import { FluidCloud } from './index.js';
export default FluidCloud;
