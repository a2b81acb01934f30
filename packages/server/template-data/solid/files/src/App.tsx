import { createSignal } from 'solid-js';

export default function App() {
  const [count, setCount] = createSignal(0);
  const unit = () => (count() === 1 ? 'time' : 'times');

  return (
    <main class="card">
      <h1>Hello, Tandem</h1>
      <p>A Solid component everyone in this project can edit.</p>
      <button type="button" onClick={() => setCount((n) => n + 1)}>
        Clicked {count()} {unit()}
      </button>
      <p class="hint">
        Edit <code>src/App.tsx</code> and the preview updates.
      </p>
    </main>
  );
}
