import './style.css';
import { setupCounter } from './counter.ts';

const app = document.querySelector<HTMLDivElement>('#app');
if (!app) throw new Error('index.html must contain <div id="app">');

app.innerHTML = `
  <main class="card">
    <h1>Hello, Tandem</h1>
    <p>Plain TypeScript modules, no framework.</p>
    <button id="counter" type="button"></button>
    <p class="hint">Edit <code>src/main.ts</code> and the preview reloads.</p>
  </main>
`;

setupCounter(app.querySelector<HTMLButtonElement>('#counter')!);
