/** ui — small building blocks every page and panel uses: toasts, modal dialogs, downloads. */
export { toast, Toasts } from './toasts.js';
export { confirmAction, DialogHost, Modal, openDialog, promptText } from './dialogs.js';
export { debounce } from './debounce.js';
export { saveFile } from './save-file.js';
