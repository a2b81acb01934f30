import { useState } from 'react';

export default function App() {
  const [count, setCount] = useState(0);

  return (
    <main className="card">
      <h1>Hello, Tandem</h1>
      <p>A React component everyone in this project can edit.</p>
      <button type="button" onClick={() => setCount((n) => n + 1)}>
        Clicked {count} {count === 1 ? 'time' : 'times'}
      </button>
      <p className="hint">
        Edit <code>src/App.jsx</code> and the preview updates.
      </p>
    </main>
  );
}
