import './style.css';
import { setupCounter } from './counter.js';

document.querySelector('#app').innerHTML = `
  <main class="card">
    <h1>Hello, Tandem</h1>
    <p>Plain JavaScript modules, no framework.</p>
    <button id="counter" type="button"></button>
    <p class="hint">Edit <code>src/main.js</code> and the preview reloads.</p>
  </main>
`;

setupCounter(document.querySelector('#counter'));
