// Server settings: the version, the editable settings (kept in the database), the
// configuration file in force (read-only: it is the administrator's file), a test e-mail, and
// the server's logs by day.

import { admin } from '../api.js';
import { refreshBrand } from '../app.js';
import { clear, el, field, fmtDate, select, timeEl, toast } from '../ui.js';

export async function render(ctx) {
  const [version, settings, config, days] = await Promise.all([
    admin('meta/version'),
    admin('meta/settings/get'),
    admin('meta/server-config/get'),
    admin('meta/list-available-log-days'),
  ]);
  if (!ctx.alive()) return;

  // Editable settings.
  const stale = el('input', { id: 'setting-stale-days', type: 'number', min: '1', max: '365', value: String(settings.StaleDeviceDays) });
  const minimum = el('input', { id: 'setting-minimum-version', value: settings.MinimumAgentVersion ?? '', placeholder: version.Version, spellcheck: 'false' });
  const brand = el('input', { id: 'setting-brand', value: settings.BrandName ?? '', maxlength: '60' });
  const settingsError = el('p', { class: 'error-text', role: 'alert' });
  const settingsForm = el(
    'form',
    { class: 'card', id: 'settings-form', novalidate: true },
    el('h2', { text: 'Settings' }),
    el(
      'div',
      { class: 'row' },
      field('Days without a backup before a device is listed', stale, '1 to 365; the dashboard lists such devices.'),
      field('Minimum agent version', minimum, `Older agents are listed on the dashboard. Empty: this server's version (${version.Version}).`),
      field('Name in the header', brand, 'At most 60 characters. Empty: Comet.'),
    ),
    settingsError,
    el('div', { class: 'form-end' }, el('button', { type: 'submit', class: 'primary', id: 'settings-save', text: 'Save settings' })),
  );
  settingsForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    settingsError.textContent = '';
    try {
      await admin('meta/settings/set', { StaleDeviceDays: stale.value.trim(), MinimumAgentVersion: minimum.value.trim(), BrandName: brand.value.trim() });
      toast('Settings saved.');
      refreshBrand();
    } catch (e) {
      settingsError.textContent = e.message;
    }
  });

  // Test e-mail.
  const recipient = el('input', { id: 'test-email-recipient', type: 'email', autocomplete: 'email' });
  const mailStatus = el('p', { role: 'status' });
  const mailForm = el(
    'form',
    { class: 'card', id: 'test-email-form', novalidate: true },
    el('h2', { text: 'Test e-mail' }),
    field('Send a test message to', recipient, 'Uses the [smtp] settings of the configuration.'),
    mailStatus,
    el('div', { class: 'form-end' }, el('button', { type: 'submit', text: 'Send test e-mail' })),
  );
  mailForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    mailStatus.className = '';
    mailStatus.textContent = 'Sending…';
    try {
      const answer = await admin('meta/send-test-email', { Recipient: recipient.value.trim() });
      mailStatus.textContent = answer.Message || 'Sent.';
    } catch (e) {
      mailStatus.className = 'error-text';
      mailStatus.textContent = e.message;
    }
  });

  // Logs by day.
  const day = select({ id: 'log-day' }, [...days].reverse().map((d) => [String(d), new Date(d * 1000).toISOString().slice(0, 10)]));
  const logText = el('pre', { class: 'block', id: 'server-log', tabindex: '0', 'aria-label': 'Server log' });
  const showLog = async () => {
    if (!day.value) {
      logText.textContent = 'No log files yet.';
      return;
    }
    logText.textContent = 'Loading…';
    try {
      const text = await admin('meta/read-logs', { Log: day.value }, { text: true });
      logText.textContent = text || '(empty)';
      logText.scrollTop = logText.scrollHeight;
    } catch (e) {
      logText.textContent = e.message;
    }
  };
  day.addEventListener('change', showLog);

  clear(
    ctx.view,
    el('h1', { text: 'Server' }),
    el(
      'div',
      { class: 'card' },
      el(
        'dl',
        { class: 'props', id: 'server-version' },
        el('dt', { text: 'Version' }),
        el('dd', { text: version.Version }),
        el('dt', { text: 'Agent protocol' }),
        el('dd', { text: String(version.ProtocolVersion) }),
        el('dt', { text: 'Running since' }),
        el('dd', {}, timeEl(version.ServerStartTime)),
        el('dt', { text: 'Roles' }),
        el('dd', { text: [version.AuthRole ? 'accounts and devices' : '', version.StorageRole ? 'storage buckets' : ''].filter(Boolean).join(', ') }),
        el('dt', { text: 'Data directory' }),
        el('dd', {}, el('code', { text: config.DataDir })),
      ),
    ),
    settingsForm,
    mailForm,
    el(
      'section',
      { class: 'card', 'aria-labelledby': 'config-title' },
      el('h2', { id: 'config-title', text: 'Configuration in force' }),
      el('p', { class: 'help' }, 'Read from ', el('code', { text: config.Path }), ' at start; edit that file and restart the server to change it. Passwords and secrets are not shown.'),
      configView(config.Config),
    ),
    el(
      'section',
      { class: 'card', 'aria-labelledby': 'logs-title' },
      el('h2', { id: 'logs-title', text: 'Server logs' }),
      el('p', { class: 'help', text: `One file per day (UTC); ${days.length} day${days.length === 1 ? '' : 's'} kept${days.length ? `, since ${fmtDate(days[0])}` : ''}.` }),
      field('Day', day),
      logText,
    ),
  );
  await showLog();
}

/** The configuration as sections of key = value, like the TOML file. */
function configView(config) {
  const value = (v) => (typeof v === 'string' ? JSON.stringify(v) : Array.isArray(v) ? JSON.stringify(v) : String(v));
  const flat = [];
  const sections = [];
  for (const [key, v] of Object.entries(config ?? {})) {
    if (v && typeof v === 'object' && !Array.isArray(v)) sections.push([key, v]);
    else flat.push([key, v]);
  }
  const text = [
    ...flat.map(([k, v]) => `${k} = ${value(v)}`),
    ...sections.map(([name, body]) => [`\n[${name}]`, ...Object.entries(body).map(([k, v]) => `${k} = ${v && typeof v === 'object' && !Array.isArray(v) ? JSON.stringify(v) : value(v)}`)].join('\n')),
  ]
    .join('\n')
    .trim();
  return el('pre', { class: 'block', id: 'server-config', tabindex: '0', 'aria-label': 'Configuration', text });
}
