import { render } from 'solid-js/web';
import './index.css';
import App from './App.tsx';

const root = document.getElementById('root');
if (!root) throw new Error('index.html must contain <div id="root">');

render(() => <App />, root);
