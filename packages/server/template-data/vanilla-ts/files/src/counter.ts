/** Turns a button into a click counter and returns a function that reads the count. */
export function setupCounter(button: HTMLButtonElement): () => number {
  let count = 0;
  const render = (): void => {
    button.textContent = `Clicked ${count} ${count === 1 ? 'time' : 'times'}`;
  };
  button.addEventListener('click', () => {
    count += 1;
    render();
  });
  render();
  return () => count;
}
