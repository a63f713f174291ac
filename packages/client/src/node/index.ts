// @playsmart/client/node: what only Node has (files, the process's lifecycle).
export { FileStorage } from './file-storage.js';
export { nodeLifecycle } from './lifecycle.js';
