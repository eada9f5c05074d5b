// The signed-in account: two-factor sign-in (enrol with a QR code, recovery codes, turn off)
// and the password. A user's passwords are turned into login secrets here, in the browser.

import { isAdmin, own, session } from '../api.js';
import { deriveLoginSecret } from '../crypto.js';
import { clear, el, field, toast } from '../ui.js';

export async function render(ctx) {
  const properties = await own('account/properties');
  if (!ctx.alive()) return;
  const totp = el('section', { class: 'card', id: 'totp', 'aria-labelledby': 'totp-title' });
  drawTotp(totp, properties, ctx);
  clear(
    ctx.view,
    el('h1', { text: 'Your account' }),
    el(
      'div',
      { class: 'card' },
      el('dl', { class: 'props' }, el('dt', { text: 'User name' }), el('dd', { text: properties.Username }), el('dt', { text: 'Kind' }), el('dd', { text: properties.Kind === 'admin' ? 'Administrator' : 'User' })),
    ),
    totp,
    passwordSection(),
  );
}

function drawTotp(section, properties, ctx) {
  const title = el('h2', { id: 'totp-title', text: 'Two-factor sign-in' });
  if (properties.TOTPEnabled) {
    const code = el('input', { id: 'totp-disable-code', inputmode: 'numeric', autocomplete: 'one-time-code' });
    const error = el('p', { class: 'error-text', role: 'alert' });
    const form = el(
      'form',
      { id: 'totp-disable', novalidate: true },
      field('Code (or a recovery code) to turn it off', code),
      error,
      el('div', { class: 'form-end' }, el('button', { type: 'submit', class: 'danger', text: 'Turn off two-factor sign-in' })),
    );
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      error.textContent = '';
      try {
        await own('account/disable-totp', { TOTPCode: code.value.trim() });
        toast('Two-factor sign-in is off.');
        ctx.rerender();
      } catch (e) {
        error.textContent = e.message;
      }
    });
    clear(
      section,
      title,
      el('p', {}, el('span', { class: 'badge s-ok', text: 'On' }), ` Signing in needs a code from your authenticator app. Recovery codes left: ${properties.RecoveryCodesLeft}.`),
      el('button', { type: 'button', id: 'totp-enrol', text: 'Move to a new authenticator', on: { click: () => enrol(section, ctx) } }),
      form,
    );
    return;
  }
  clear(
    section,
    title,
    el('p', {}, el('span', { class: 'badge s-none', text: 'Off' }), ' Add a code from an authenticator app (RFC 6238: Google Authenticator, Aegis, 1Password…) to your password.'),
    el('button', { type: 'button', id: 'totp-enrol', class: 'primary', text: 'Turn on two-factor sign-in', on: { click: () => enrol(section, ctx) } }),
  );
}

async function enrol(section, ctx) {
  const answer = await own('account/regenerate-totp').catch((e) => {
    ctx.error(e);
    return null;
  });
  if (!answer) return;
  const code = el('input', { id: 'totp-code', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '6' });
  const error = el('p', { class: 'error-text', role: 'alert' });
  const confirm = el('button', { type: 'submit', id: 'totp-confirm', class: 'primary', text: 'Confirm' });
  const form = el('form', { id: 'totp-confirm-form', novalidate: true }, field('The six-digit code the app shows now', code), error, el('div', { class: 'form-end' }, confirm));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    confirm.disabled = true;
    try {
      const done = await own('account/validate-totp', { TOTPCode: code.value.trim() });
      clear(
        section,
        el('h2', { id: 'totp-title', text: 'Two-factor sign-in is on' }),
        el('p', { text: 'Keep these recovery codes somewhere safe, away from your phone. Each signs you in once if you lose the app; they are not shown again.' }),
        el('ul', { id: 'recovery-codes' }, (done.RecoveryCodes ?? []).map((c) => el('li', {}, el('code', { text: c })))),
        el('button', { type: 'button', text: 'Done', on: { click: () => ctx.rerender() } }),
      );
    } catch (e) {
      error.textContent = e.message;
      confirm.disabled = false;
    }
  });
  clear(
    section,
    el('h2', { id: 'totp-title', text: 'Set up your authenticator app' }),
    el('p', { text: 'Scan this code with the app, or type the secret below into it. Then enter the code the app shows to confirm.' }),
    el('img', { id: 'totp-qr', src: answer.TOTPImage, alt: 'QR code of the two-factor secret for your authenticator app; the same secret is written below' }),
    el('p', {}, 'Secret: ', el('code', { id: 'totp-secret', text: answer.TOTPSecret })),
    form,
  );
  code.focus();
}

function passwordSection() {
  const user = !isAdmin();
  const old = el('input', { id: 'password-old', type: 'password', autocomplete: 'current-password' });
  const fresh = el('input', { id: 'password-new', type: 'password', autocomplete: 'new-password' });
  const again = el('input', { id: 'password-again', type: 'password', autocomplete: 'new-password' });
  const status = el('p', { role: 'status' });
  const submit = el('button', { type: 'submit', class: 'primary', id: 'password-submit', text: 'Change password' });
  const form = el(
    'form',
    { class: 'card', id: 'password-form', novalidate: true, 'aria-labelledby': 'password-title' },
    el('h2', { id: 'password-title', text: 'Password' }),
    user
      ? el(
          'div',
          { class: 'alert notice' },
          el('p', { text: 'Your backups are encrypted with vault secrets that only your devices can open: they are stored wrapped by a key derived from your password, which this page never sees and the server never gets.' }),
          el('p', {}, 'Changing the password here changes how you sign in, but cannot re-wrap those secrets (that needs the old key, which only a device holds). Your devices keep working; a device that logs in afresh with the new password cannot open the vaults until a device still logged in runs ', el('code', { text: 'comet-agent login change-password' }), '. Prefer running that command on a device: it changes the password and re-wraps the secrets in one go.'),
        )
      : el('p', { class: 'help', text: 'At least 8 characters. Your other sessions end; this one goes on.' }),
    field('Current password', old),
    field('New password', fresh),
    field('New password again', again),
    status,
    el('div', { class: 'form-end' }, submit),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    status.className = '';
    status.textContent = '';
    if (fresh.value.length < 8) {
      status.className = 'error-text';
      status.textContent = 'The new password needs at least 8 characters.';
      return;
    }
    if (fresh.value !== again.value) {
      status.className = 'error-text';
      status.textContent = 'The two new passwords differ.';
      return;
    }
    submit.disabled = true;
    try {
      let oldSecret = old.value;
      let newSecret = fresh.value;
      if (user) {
        status.textContent = 'Deriving the login secrets…';
        const name = session().username;
        oldSecret = await deriveLoginSecret(name, old.value);
        newSecret = await deriveLoginSecret(name, fresh.value);
      }
      const answer = await own('account/change-password', { OldPassword: oldSecret, NewPassword: newSecret });
      for (const input of [old, fresh, again]) input.value = '';
      status.textContent = answer.Message || 'The password is changed.';
    } catch (e) {
      status.className = 'error-text';
      status.textContent = e.message;
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}
