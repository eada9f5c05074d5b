// Sign in: administrators send their password; users send the login secret their browser
// derives from the password (crypto.js), as the agent does. When the account has two-factor
// sign-in on, the server answers ERR_TOTP_REQUIRED and the form asks for a code.

import { ApiError, TOTP_REQUIRED, signIn } from './api.js';
import { go, takeFlash } from './app.js';
import { deriveLoginSecret } from './crypto.js';
import { clear, el } from './ui.js';

export async function render(ctx) {
  const note = el('p', { id: 'signin-note', class: 'alert notice', role: 'status', hidden: true });
  const error = el('p', { id: 'signin-error', class: 'error-text', role: 'alert' });
  const username = el('input', { id: 'signin-username', name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const password = el('input', { id: 'signin-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const totp = el('input', { id: 'signin-totp', name: 'totp', inputmode: 'numeric', autocomplete: 'one-time-code', 'aria-describedby': 'signin-totp-help' });
  const totpField = el(
    'div',
    { hidden: true },
    el('label', { for: 'signin-totp', text: 'Code from your authenticator app' }),
    totp,
    el('p', { class: 'help', id: 'signin-totp-help', text: 'Six digits, or one of your recovery codes.' }),
  );
  const kindAdmin = el('input', { type: 'radio', name: 'kind', value: 'admin', checked: true });
  const kindUser = el('input', { type: 'radio', name: 'kind', value: 'user' });
  const submit = el('button', { type: 'submit', id: 'signin-submit', class: 'primary', text: 'Sign in' });
  const form = el(
    'form',
    { id: 'signin', class: 'card', novalidate: true },
    el(
      'fieldset',
      {},
      el('legend', { text: 'Sign in as' }),
      el('div', { class: 'kinds' }, el('label', { class: 'inline' }, kindAdmin, 'Administrator'), el('label', { class: 'inline' }, kindUser, 'User')),
    ),
    el('label', { for: 'signin-username', text: 'User name' }),
    username,
    el('label', { for: 'signin-password', text: 'Password' }),
    password,
    totpField,
    error,
    el('div', { class: 'form-end' }, submit),
  );
  clear(
    ctx.view,
    el('div', { class: 'signin' }, el('h1', { text: 'Sign in to Comet' }), note, form, el('p', { class: 'help', text: 'A user’s password never leaves this browser: it derives the login secret the server checks, as the backup agent does.' })),
  );
  const flash = takeFlash();
  if (flash) {
    note.textContent = flash;
    note.hidden = false;
  }

  // The user's derived secret, kept while the same name and password are on the form (the
  // derivation takes a second or two; the code step must not repeat it).
  let derived = { key: '', secret: '' };
  const reset = () => {
    totpField.hidden = true;
    totp.value = '';
  };
  username.addEventListener('input', reset);
  for (const radio of [kindAdmin, kindUser]) radio.addEventListener('change', reset);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    const kind = kindUser.checked ? 'user' : 'admin';
    const name = username.value.trim();
    if (!name || !password.value) {
      error.textContent = 'Enter your user name and password.';
      return;
    }
    const code = totpField.hidden ? '' : totp.value.trim();
    if (!totpField.hidden && !code) {
      error.textContent = 'Enter the code from your authenticator app.';
      totp.focus();
      return;
    }
    submit.disabled = true;
    try {
      let secret = password.value;
      if (kind === 'user') {
        const key = `${name}\n${password.value}`;
        if (derived.key !== key) {
          note.textContent = 'Deriving your login secret…';
          note.hidden = false;
          derived = { key, secret: await deriveLoginSecret(name, password.value) };
        }
        secret = derived.secret;
      }
      await signIn(kind, name, secret, code);
      window.dispatchEvent(new CustomEvent('comet:signed-in'));
      go('dashboard');
    } catch (e) {
      if (e instanceof ApiError && e.status === 403 && e.message === TOTP_REQUIRED) {
        note.textContent = 'This account has two-factor sign-in: enter the code from your authenticator app.';
        note.hidden = false;
        totpField.hidden = false;
        totp.focus();
      } else {
        if (!note.textContent.startsWith('This account')) note.hidden = true;
        error.textContent = e.message || String(e);
      }
    } finally {
      submit.disabled = false;
    }
  });
  username.focus();
}
