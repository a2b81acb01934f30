import { useState } from 'react';

type CounterProps = { label: string };

function Counter({ label }: CounterProps) {
  const [count, setCount] = useState<number>(0);

  return (
    <button type="button" onClick={() => setCount((n) => n + 1)}>
      {label} {count} {count === 1 ? 'time' : 'times'}
    </button>
  );
}

export default function App() {
  return (
    <main className="card">
      <h1>Hello, Tandem</h1>
      <p>A typed React component everyone in this project can edit.</p>
      <Counter label="Clicked" />
      <p className="hint">
        Edit <code>src/App.tsx</code> and the preview updates.
      </p>
    </main>
  );
}
