/** preview — the live preview of static and browser projects (a panel), built in a Web Worker. */
export { previewPanel } from './preview-panel.js';
