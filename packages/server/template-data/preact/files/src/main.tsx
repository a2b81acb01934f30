import { render } from 'preact';
import './index.css';
import { App } from './app.tsx';

const root = document.getElementById('app');
if (!root) throw new Error('index.html must contain <div id="app">');

render(<App />, root);
