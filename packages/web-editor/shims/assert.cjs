// Node's `assert` for the browser build: @babel/helper-module-imports (inside babel-preset-solid,
// used by the Solid preview) calls it as a function.
module.exports = function assert(value, message) {
  if (!value) throw new Error(message || 'assertion failed');
};
