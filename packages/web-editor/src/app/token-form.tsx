import { useEffect, useRef } from 'preact/hooks';
import { loadWebConfig, saveToken } from '../session-token.js';

/** Asks for an access token (none found, or the server refused the last one). */
export function TokenForm(props: { problem: string | null; onToken: () => void }) {
  const input = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    void loadWebConfig();
    input.current?.focus();
  }, []);
  return (
    <div class="page-message">
      <form
        class="token-form"
        onSubmit={(event) => {
          event.preventDefault();
          const value = input.current?.value ?? '';
          if (value.trim() === '') return;
          saveToken(value);
          props.onToken();
        }}
      >
        <h1>
          <span class="logo" aria-hidden="true" />
          Tandem
        </h1>
        <p>
          Paste an access token to continue. Your application issues them; for local development run{' '}
          <code>npm run token</code> or start the server with <code>TANDEM_INSECURE_DEV=true</code>.
        </p>
        {props.problem === null ? null : <p class="error">{props.problem}</p>}
        <textarea
          ref={input}
          class="input token-input"
          rows={4}
          placeholder="eyJhbGciOi…"
          aria-label="Access token"
          spellcheck={false}
        />
        <button type="submit" class="button primary">
          Continue
        </button>
      </form>
    </div>
  );
}
