import { useState } from 'preact/hooks';

export function App() {
  const [count, setCount] = useState(0);

  return (
    <main class="card">
      <h1>Hello, Tandem</h1>
      <p>A Preact component everyone in this project can edit.</p>
      <button type="button" onClick={() => setCount((n) => n + 1)}>
        Clicked {count} {count === 1 ? 'time' : 'times'}
      </button>
      <p class="hint">
        Edit <code>src/app.tsx</code> and the preview updates.
      </p>
    </main>
  );
}
