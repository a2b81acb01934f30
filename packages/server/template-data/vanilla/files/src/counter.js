/** Turns a button into a click counter. */
export function setupCounter(button) {
  let count = 0;
  const render = () => {
    button.textContent = `Clicked ${count} ${count === 1 ? 'time' : 'times'}`;
  };
  button.addEventListener('click', () => {
    count += 1;
    render();
  });
  render();
}
