// One user: devices, protected items, storage vaults, schedules and retention, e-mail reports;
// suspend, reset the password, turn off two-factor sign-in, install tokens, delete. Users get
// the same page for their own profile (#/profile), without the administrator's actions.
//
// Every edit is a compare-and-swap of the whole profile: it is sent with the hash it was read
// with (RequireHash), and if somebody else changed the profile in between the server answers 409
// and nothing is saved; the page says so and offers to reload.

import { admin, isAdmin, session, user as userApi, saveProfile } from '../api.js';
import { go } from '../app.js';
import {
  VAULT_TYPES,
  WEEKDAYS,
  describeRetention,
  describeSchedule,
  nameOf,
  nameOfDevice,
  rulesOf,
  vaultType,
  withRules,
} from '../data.js';
import {
  clear,
  clock,
  confirmAction,
  deleteButton,
  closeDialogs,
  dialog,
  el,
  field,
  fmtBytes,
  fmtCount,
  fmtDate,
  lines,
  newId,
  parseClock,
  select,
  statusName,
  table,
  timeEl,
  toast,
} from '../ui.js';

const TABS = [
  ['devices', 'Devices'],
  ['items', 'Protected items'],
  ['vaults', 'Storage vaults'],
  ['schedules', 'Schedules'],
  ['reports', 'E-mail reports'],
];

const lastTab = new Map();

export async function render(ctx) {
  // #/profile: the signed-in user's own; #/users/<name>: an administrator's view of a user.
  const self = ctx.params.length === 0;
  if (self && isAdmin()) {
    clear(ctx.view, el('h1', { text: 'No profile' }), el('p', {}, 'Administrators have no backup profile: see ', el('a', { href: '#/users', text: 'the users' }), '.'));
    return;
  }
  const username = self ? session().username : ctx.params[0];
  const state = { self, profile: null, hash: '', live: {}, buckets: {} };

  const load = async () => {
    const [ph, live, buckets] = await Promise.all(
      self
        ? [userApi('get-user-profile-and-hash'), userApi('dispatcher/list-active'), {}]
        : [
            admin('get-user-profile-and-hash', { TargetUser: username }),
            admin('dispatcher/list-active'),
            admin('storage/list-buckets').catch(() => ({})),
          ],
    );
    state.profile = ph.Profile;
    state.hash = ph.ProfileHash;
    state.live = live;
    state.buckets = buckets;
  };
  await load();
  if (!ctx.alive()) return;

  const head = el('div');
  const tabList = el('div', { role: 'tablist', 'aria-label': 'Parts of the profile' });
  const panel = el('div', { role: 'tabpanel', id: 'user-panel', tabindex: '0' });
  let tab = lastTab.get(username) ?? 'devices';

  /** Saves `mutate(copy of the profile)`; a conflict is shown on the page, not thrown. */
  const edit = async (mutate) => {
    const copy = structuredClone(state.profile);
    mutate(copy);
    try {
      await saveProfile(username, copy, state.hash);
    } catch (e) {
      if (e.isConflict) {
        closeDialogs();
        clear(
          ctx.errorBox,
          el('strong', { text: 'Not saved: ' }),
          `somebody else changed ${username}'s profile since this page loaded it (${e.message}). Reload to see their change, then make yours again. `,
          el('button', { type: 'button', id: 'conflict-reload', text: 'Reload', on: { click: () => ctx.rerender() } }),
        );
        return;
      }
      throw e;
    }
    ctx.clearError();
    await load();
    draw();
  };

  edit.refresh = async () => {
    await load();
    draw();
  };

  const drawHead = () => {
    const p = state.profile;
    if (self) {
      clear(
        head,
        el('h1', { text: 'Your backups' }),
        el('p', { class: 'muted', text: 'What your devices back up, where to, and when. Changes reach online devices at once.' }),
      );
      return;
    }
    clear(
      head,
      el(
        'div',
        { class: 'page-head' },
        el('h1', {}, `User ${username} `, p.IsSuspended ? el('span', { class: 'badge s-bad', text: 'Suspended' }) : null),
        el(
          'div',
          { class: 'actions' },
          el('button', {
            type: 'button',
            id: 'user-suspend',
            text: p.IsSuspended ? 'Unsuspend' : 'Suspend',
            on: {
              click: () =>
                confirmAction({
                  title: p.IsSuspended ? `Unsuspend ${username}` : `Suspend ${username}`,
                  text: p.IsSuspended
                    ? `${username} can sign in and run jobs again.`
                    : `${username} cannot sign in while suspended, and open sessions stop working. Devices and backups stay.`,
                  submitText: p.IsSuspended ? 'Unsuspend' : 'Suspend',
                  danger: !p.IsSuspended,
                  action: () => edit((c) => (c.IsSuspended = !c.IsSuspended)),
                }),
            },
          }),
          el('button', { type: 'button', id: 'user-reset-password', text: 'Reset password', on: { click: () => resetPassword(username) } }),
          el('button', { type: 'button', id: 'user-install-token', text: 'Install token', on: { click: () => installToken(username) } }),
          el('button', {
            type: 'button',
            id: 'user-disable-totp',
            text: 'Turn off two-factor sign-in',
            on: {
              click: () =>
                confirmAction({
                  title: 'Turn off two-factor sign-in',
                  text: `${username} will sign in with the password alone (for a lost phone). They can enrol again from their account page.`,
                  submitText: 'Turn off',
                  danger: true,
                  action: async () => {
                    await admin('disable-user-totp', { TargetUser: username });
                    toast(`Two-factor sign-in is off for ${username}.`);
                  },
                }),
            },
          }),
          el('button', {
            type: 'button',
            id: 'user-delete',
            class: 'danger',
            text: 'Delete',
            on: { click: () => deleteUser(username) },
          }),
        ),
      ),
      el(
        'p',
        { class: 'muted' },
        `Created ${fmtDate(p.CreateTime) || 'before records'}`,
        (p.Emails ?? []).length ? ` · ${p.Emails.join(', ')}` : '',
        p.LocalTimezone ? ` · ${p.LocalTimezone}` : '',
      ),
    );
  };

  const drawTabs = () => {
    clear(
      tabList,
      TABS.map(([name, label]) =>
        el('button', {
          type: 'button',
          role: 'tab',
          id: `tab-${name}`,
          'aria-selected': String(name === tab),
          'aria-controls': 'user-panel',
          tabindex: name === tab ? '0' : '-1',
          text: label,
          on: {
            click: () => {
              tab = name;
              lastTab.set(username, tab);
              draw();
            },
            keydown: (event) => {
              const i = TABS.findIndex(([n]) => n === name);
              const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
              if (!step) return;
              event.preventDefault();
              tab = TABS[(i + step + TABS.length) % TABS.length][0];
              lastTab.set(username, tab);
              draw();
              document.getElementById(`tab-${tab}`).focus();
            },
          },
        }),
      ),
    );
    panel.setAttribute('aria-labelledby', `tab-${tab}`);
  };

  const draw = () => {
    drawHead();
    drawTabs();
    const views = { devices: devicesTab, items: itemsTab, vaults: vaultsTab, schedules: schedulesTab, reports: reportsTab };
    clear(panel, views[tab](username, state, edit));
  };
  draw();
  clear(ctx.view, self ? null : el('p', {}, el('a', { href: '#/users', text: '← Users' })), head, tabList, panel);
}

/** Removes entry `id` of `section` from profile `c`, with the schedules whose `field` is it. */
function removeWithSchedules(c, section, field, id) {
  delete c[section][id];
  for (const [rid, r] of Object.entries(c.BackupRules ?? {})) if (r[field] === id) delete c.BackupRules[rid];
}

function online(state, deviceId, username) {
  return Object.values(state.live).some((c) => c.Username === username && c.DeviceID === deviceId);
}

function devicesTab(username, state, edit) {
  const p = state.profile;
  const rows = Object.entries(p.Devices ?? {})
    .sort(([, a], [, b]) => (a.FriendlyName ?? '').localeCompare(b.FriendlyName ?? ''))
    .map(([id, d]) => ({
      dataset: { device: id },
      cells: [
        d.FriendlyName || id,
        el('span', { class: 'hide-narrow' }, d.PlatformVersion || '—'),
        d.ClientVersion || '—',
        d.DeviceTimezone || '—',
        timeEl(d.RegistrationTime),
        { class: 'state', node: online(state, id, username) ? el('span', { class: 'state-on', text: 'Online' }) : el('span', { class: 'state-off', text: 'Offline' }) },
        {
          class: 'actions-cell',
          node: state.self ? null : el('button', {
            type: 'button',
            class: 'small danger revoke',
            text: 'Revoke',
            on: {
              click: () =>
                confirmAction({
                  title: `Revoke ${d.FriendlyName || id}`,
                  text: `The device stops working with this account at once, and its protected items and their schedules are removed from the profile. Data already in the vaults stays. It can join again with the password or an install token.`,
                  submitText: 'Revoke',
                  danger: true,
                  action: async () => {
                    await admin('revoke-device', { TargetUser: username, TargetDeviceID: id });
                    toast(`${d.FriendlyName || id} is revoked.`);
                    await edit.refresh();
                  },
                }),
            },
          }),
        },
      ],
    }));
  return [
    table(
      [{ title: 'Device' }, { title: 'Platform', class: 'hide-narrow' }, { title: 'Agent' }, { title: 'Time zone' }, { title: 'Registered' }, { title: 'State' }, { title: '' }],
      rows,
      { empty: 'No devices yet. A device joins with `comet-agent login` (the password, or an install token).', caption: 'Devices' },
    ),
  ];
}

function itemsTab(username, state, edit) {
  const p = state.profile;
  const rulesFor = (id) => Object.values(p.BackupRules ?? {}).filter((r) => r.Source === id);
  const rows = Object.entries(p.Sources ?? {})
    .sort(([, a], [, b]) => (a.Description ?? '').localeCompare(b.Description ?? ''))
    .map(([id, s]) => {
      const { includes, excludes, rexcludes } = rulesOf(s);
      return {
        dataset: { item: id },
        cells: [
          s.Description || id,
          nameOfDevice(p, s.OwnerDevice),
          el('div', {}, includes.map((x) => el('div', {}, el('code', { text: x })))),
          el('div', {}, excludes.map((x) => el('span', { class: 'tag', text: x })), rexcludes.map((x) => el('span', { class: 'tag', title: 'regular expression', text: `/${x}/` }))),
          String(rulesFor(id).length),
          {
            class: 'actions-cell',
            node: [
              el('button', { type: 'button', class: 'small', text: 'Edit', on: { click: () => itemDialog(state, edit, id) } }),
              deleteButton({
                title: `Delete ${s.Description || id}`,
                text: 'The item and its schedules leave the profile. Its snapshots stay in the vaults until retention removes them.',
                action: () => edit((c) => removeWithSchedules(c, 'Sources', 'Source', id)),
              }),
            ],
          },
        ],
      };
    });
  return [
    el('div', { class: 'actions' }, el('button', { type: 'button', id: 'item-new', class: 'primary', text: 'New protected item', disabled: !Object.keys(p.Devices ?? {}).length, on: { click: () => itemDialog(state, edit) } })),
    Object.keys(p.Devices ?? {}).length ? null : el('p', { class: 'help', text: 'A protected item belongs to a device: log a device in first.' }),
    el('div', {}, table([{ title: 'Name' }, { title: 'Device' }, { title: 'Includes' }, { title: 'Excludes' }, { title: 'Schedules', class: 'num' }, { title: '' }], rows, { empty: 'No protected items yet.', caption: 'Protected items' })),
  ];
}

function itemDialog(state, edit, id) {
  const p = state.profile;
  const item = id ? p.Sources[id] : null;
  const rules = item ? rulesOf(item) : { includes: [], excludes: [], rexcludes: [] };
  const name = el('input', { id: 'item-name', value: item?.Description ?? '', required: true });
  const device = select(
    { id: 'item-device', required: true },
    Object.entries(p.Devices ?? {}).map(([did, d]) => [did, d.FriendlyName || did]),
    { placeholder: 'Choose a device', selected: item?.OwnerDevice },
  );
  const includes = el('textarea', { id: 'item-includes', spellcheck: 'false' });
  includes.value = rules.includes.join('\n');
  const excludes = el('textarea', { id: 'item-excludes', spellcheck: 'false' });
  excludes.value = rules.excludes.join('\n');
  const rexcludes = el('textarea', { id: 'item-rexcludes', spellcheck: 'false' });
  rexcludes.value = rules.rexcludes.join('\n');
  dialog({
    id: 'dlg-item',
    title: item ? `Edit ${item.Description || id}` : 'New protected item',
    body: [
      field('Name', name),
      field('Device', device),
      field('Folders and files to back up', includes, 'One absolute path per line, on the device.'),
      field('Exclude (glob patterns)', excludes, 'One per line, such as *.tmp or **/node_modules.'),
      field('Exclude (regular expressions)', rexcludes, 'One per line; matched against the whole path.'),
    ],
    submit: async () => {
      const description = name.value.trim();
      if (!description) throw new Error('Give the item a name.');
      if (!device.value) throw new Error('Choose the device it belongs to.');
      const paths = lines(includes.value);
      if (!paths.length) throw new Error('Name at least one folder or file to back up.');
      const regexes = lines(rexcludes.value);
      for (const r of regexes) {
        try {
          new RegExp(r);
        } catch (e) {
          throw new Error(`${r} is not a regular expression: ${e.message}`);
        }
      }
      const now = Math.floor(Date.now() / 1000);
      await edit((c) => {
        c.Sources ??= {};
        const key = id ?? newId();
        const old = c.Sources[key] ?? { Engine: 'engine1/file', CreateTime: now, EngineProps: {} };
        c.Sources[key] = {
          ...old,
          Description: description,
          Engine: old.Engine || 'engine1/file',
          OwnerDevice: device.value,
          EngineProps: withRules(old.EngineProps, { includes: paths, excludes: lines(excludes.value), rexcludes: regexes }),
          ModifyTime: now,
        };
      });
    },
  });
  name.focus();
}

function vaultsTab(username, state, edit) {
  const p = state.profile;
  const rows = Object.entries(p.Destinations ?? {})
    .sort(([, a], [, b]) => (a.Description ?? '').localeCompare(b.Description ?? ''))
    .map(([id, d]) => {
      const bucket = d.DestinationType === 1003 && d.Location ? state.buckets[d.Location] : null;
      return {
        dataset: { vault: id },
        cells: [
          d.Description || id,
          vaultType(d.DestinationType),
          d.Location ? el('code', { text: d.Location }) : el('span', { class: 'muted', text: d.DestinationType === 1003 ? 'a bucket is made on first use' : '—' }),
          d.AppendOnly ? 'Append-only' : 'Read and write',
          d.WrappedVaultSecret ? 'In use' : el('span', { class: 'muted', text: 'Not used yet' }),
          bucket ? `${fmtBytes(bucket.Size)} · ${fmtCount(bucket.Objects)} objects` : '—',
          describeRetention(d.DefaultRetention),
          {
            class: 'actions-cell',
            node: [
              el('button', { type: 'button', class: 'small', text: 'Edit', on: { click: () => vaultDialog(state, edit, id) } }),
              deleteButton({
                title: `Delete ${d.Description || id}`,
                text: 'The vault leaves the profile with its schedules. Its data stays where it is (a bucket stays on the server) but devices lose the wrapped secret that opens it.',
                action: () => edit((c) => removeWithSchedules(c, 'Destinations', 'Destination', id)),
              }),
            ],
          },
        ],
      };
    });
  return [
    el('div', { class: 'actions' }, el('button', { type: 'button', id: 'vault-new', class: 'primary', text: 'New storage vault', on: { click: () => vaultDialog(state, edit) } })),
    table(
      [{ title: 'Name' }, { title: 'Type' }, { title: 'Location' }, { title: 'Mode' }, { title: 'State' }, { title: 'Size' }, { title: 'Retention' }, { title: '' }],
      rows,
      { empty: 'No storage vaults yet.', caption: 'Storage vaults' },
    ),
    el('p', { class: 'help', text: 'Vault secrets are made by the first device that uses a vault and stored only wrapped by the user’s key: neither this page nor the server can read them.' }),
  ];
}

const RETENTION_FIELDS = [
  ['newest', 'Newest snapshots', 900],
  ['days', 'Everything of the last … days', 902],
  ['daily', 'One a day, for … days', 907],
  ['weekly', 'One a week, for … weeks', 908],
  ['monthly', 'One a month, for … months', 909],
  ['yearly', 'One a year, for … years', 910],
];

function vaultDialog(state, edit, id) {
  const p = state.profile;
  const vault = id ? p.Destinations[id] : null;
  const used = Boolean(vault?.WrappedVaultSecret);
  const name = el('input', { id: 'vault-name', value: vault?.Description ?? '', required: true });
  const type = select({ id: 'vault-type', disabled: used }, VAULT_TYPES, { selected: String(vault?.DestinationType ?? 1003) });
  const location = el('input', { id: 'vault-location', value: vault?.Location ?? '', disabled: used, spellcheck: 'false' });
  const locationHelp = el('p', { class: 'help', id: 'vault-location-help' });
  location.setAttribute('aria-describedby', 'vault-location-help');
  const appendOnly = el('input', { type: 'checkbox', id: 'vault-append-only', checked: vault?.AppendOnly, disabled: used });
  const explain = () => {
    locationHelp.textContent = {
      1003: 'Leave empty: the first backup makes a bucket on this server (or give the id of a registered bucket).',
      1000: 'An s3:// URL (s3://bucket/prefix). The device reads the credentials and endpoint from its environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT…).',
      1002: 'An absolute path on the device, or a mounted network share.',
    }[type.value];
  };
  type.addEventListener('change', explain);
  explain();
  const retention = vault?.DefaultRetention ?? { Mode: 801, Ranges: [] };
  const numbers = Object.fromEntries(
    RETENTION_FIELDS.map(([key, , code]) => {
      const range = retention.Mode === 802 ? retention.Ranges.find((r) => r.Type === code) : null;
      const value = range ? (code === 902 ? range.Days : range.Jobs) : '';
      return [key, el('input', { id: `vault-keep-${key}`, type: 'number', min: '0', max: '100000', inputmode: 'numeric', value: value ? String(value) : '' })];
    }),
  );
  dialog({
    id: 'dlg-vault',
    title: vault ? `Edit ${vault.Description || id}` : 'New storage vault',
    body: [
      field('Name', name),
      field('Type', type),
      el('div', { class: 'field' }, el('label', { for: 'vault-location', text: 'Location' }), location, locationHelp),
      state.self ? null : el('label', { class: 'inline', for: 'vault-append-only' }, appendOnly, 'Append-only (devices can add but not delete; retention passes get a short grant from the server)'),
      used ? el('p', { class: 'help', text: 'A device already uses this vault: its type, location and mode stay as they are.' }) : null,
      el(
        'fieldset',
        {},
        el('legend', { text: 'Retention: what to keep (empty: keep everything)' }),
        el('div', { class: 'row' }, RETENTION_FIELDS.map(([key, label]) => field(label, numbers[key]))),
      ),
    ],
    submit: async () => {
      const description = name.value.trim();
      if (!description) throw new Error('Give the vault a name.');
      const t = Number(type.value);
      const loc = location.value.trim();
      if (t === 1000 && !used && !/^s3:\/\/[^/]+/.test(loc)) throw new Error('An S3 vault needs an s3://bucket/prefix location.');
      if (t === 1002 && !used && !loc.startsWith('/') && !/^[A-Za-z]:\\/.test(loc)) throw new Error('A local vault needs an absolute path.');
      const ranges = [];
      for (const [key, label, code] of RETENTION_FIELDS) {
        const raw = numbers[key].value.trim();
        if (!raw) continue;
        const n = Number(raw);
        if (!Number.isInteger(n) || n < 1) throw new Error(`${label}: a whole number of at least 1`);
        ranges.push(code === 902 ? { Type: code, Timestamp: 0, Jobs: 0, Days: n, Weeks: 0, Months: 0, Years: 0 } : { Type: code, Timestamp: 0, Jobs: n, Days: 0, Weeks: 0, Months: 0, Years: 0 });
      }
      // Ranges of kinds this form does not show (901, 902 with weeks...) are kept.
      const shown = new Set(RETENTION_FIELDS.map(([, , code]) => code));
      const kept = retention.Mode === 802 ? retention.Ranges.filter((r) => !shown.has(r.Type) || (r.Type === 902 && !r.Days)) : [];
      const all = [...ranges, ...kept];
      await edit((c) => {
        c.Destinations ??= {};
        const key = id ?? newId();
        const old = c.Destinations[key] ?? {};
        c.Destinations[key] = {
          ...old,
          Description: description,
          DestinationType: used ? old.DestinationType : t,
          Location: used ? old.Location : loc,
          AppendOnly: used ? old.AppendOnly : appendOnly.checked,
          DefaultRetention: all.length ? { Mode: 802, Ranges: all } : { Mode: 801, Ranges: [] },
        };
      });
    },
  });
  name.focus();
}

const FREQUENCIES = [
  ['Daily', 'Daily'],
  ['Weekly', 'Weekly'],
  ['Monthly', 'Monthly'],
  ['Hourly', 'Hourly'],
  ['Periodic', 'Every few minutes or hours'],
];

function schedulesTab(username, state, edit) {
  const p = state.profile;
  const rows = Object.entries(p.BackupRules ?? {})
    .sort(([, a], [, b]) => (a.Description ?? '').localeCompare(b.Description ?? ''))
    .map(([id, r]) => ({
      dataset: { rule: id },
      cells: [
        r.Description || id,
        nameOf(p, 'Sources', r.Source),
        nameOf(p, 'Destinations', r.Destination),
        (r.Schedules ?? []).length ? el('div', {}, r.Schedules.map((s) => el('div', { text: describeSchedule(s) }))) : el('span', { class: 'muted', text: 'on demand only' }),
        [r.RunIfMissed ? 'runs if missed' : '', r.RetentionAfterBackup ? 'retention after backup' : ''].filter(Boolean).join(', '),
        {
          class: 'actions-cell',
          node: [
            el('button', { type: 'button', class: 'small', text: 'Edit', on: { click: () => ruleDialog(state, edit, id) } }),
            deleteButton({ title: `Delete ${r.Description || id}`, text: 'The schedule stops; nothing else changes.', action: () => edit((c) => delete c.BackupRules[id]) }),
          ],
        },
      ],
    }));
  const canAdd = Object.keys(p.Sources ?? {}).length && Object.keys(p.Destinations ?? {}).length;
  return [
    el('div', { class: 'actions' }, el('button', { type: 'button', id: 'rule-new', class: 'primary', text: 'New schedule', disabled: !canAdd, on: { click: () => ruleDialog(state, edit) } })),
    canAdd ? null : el('p', { class: 'help', text: 'A schedule runs a protected item into a storage vault: add both first.' }),
    table([{ title: 'Name' }, { title: 'Protected item' }, { title: 'Vault' }, { title: 'When (device time)' }, { title: 'Options' }, { title: '' }], rows, { empty: 'No schedules yet: backups run only when started by hand.', caption: 'Schedules' }),
  ];
}

function ruleDialog(state, edit, id) {
  const p = state.profile;
  const rule = id ? p.BackupRules[id] : null;
  const first = rule?.Schedules?.[0] ?? { Frequency: { Type: 'Daily', Times: [79200] }, RandomDelaySecs: 0, Window: null };
  const f = first.Frequency;
  const name = el('input', { id: 'rule-name', value: rule?.Description ?? '' });
  const item = select({ id: 'rule-item' }, Object.entries(p.Sources ?? {}).map(([sid, s]) => [sid, `${s.Description || sid} (${nameOfDevice(p, s.OwnerDevice)})`]), { selected: rule?.Source });
  const vault = select({ id: 'rule-vault' }, Object.entries(p.Destinations ?? {}).map(([did, d]) => [did, d.Description || did]), { selected: rule?.Destination });
  const frequency = select({ id: 'rule-frequency' }, FREQUENCIES, { selected: f.Type === 'Once' ? 'Daily' : f.Type });
  const time = el('input', { id: 'rule-time', type: 'time', value: clock(f.Type === 'Daily' ? (f.Times?.[0] ?? 0) : (f.SecondsPast ?? 0) % 86400) });
  const times = el('input', { id: 'rule-times', value: f.Type === 'Daily' ? (f.Times ?? []).map(clock).join(', ') : '22:00', spellcheck: 'false' });
  const minute = el('input', { id: 'rule-minute', type: 'number', min: '0', max: '59', value: String(f.Type === 'Hourly' ? Math.floor((f.SecondsPast ?? 0) / 60) : 0) });
  const days = WEEKDAYS.map((label, i) => el('input', { type: 'checkbox', id: `rule-day-${i}`, checked: f.Type === 'Weekly' ? (f.Days ?? []).includes(i) : i >= 1 && i <= 5 }));
  const dayOfMonth = el('input', { id: 'rule-day-of-month', type: 'number', min: '1', max: '31', value: String(f.Day ?? 1) });
  const everyMinutes = el('input', { id: 'rule-every', type: 'number', min: '1', value: String(f.Type === 'Periodic' ? Math.round(f.EverySecs / 60) : 240) });
  const offsetMinutes = el('input', { id: 'rule-offset', type: 'number', min: '0', value: String(f.Type === 'Periodic' ? Math.round((f.OffsetSecs ?? 0) / 60) : 0) });
  const delay = el('input', { id: 'rule-delay', type: 'number', min: '0', max: '1440', value: String(Math.round((first.RandomDelaySecs ?? 0) / 60)) });
  const windowStart = el('input', { id: 'rule-window-start', type: 'time', value: first.Window ? clock(first.Window.StartSecs) : '' });
  const windowEnd = el('input', { id: 'rule-window-end', type: 'time', value: first.Window ? clock(first.Window.EndSecs) : '' });
  const runIfMissed = el('input', { type: 'checkbox', id: 'rule-run-if-missed', checked: rule?.RunIfMissed });
  const retention = el('input', { type: 'checkbox', id: 'rule-retention', checked: rule?.RetentionAfterBackup });

  const parts = {
    Daily: field('Times of day', times, 'One or more, such as 12:30, 22:00.'),
    Weekly: [el('fieldset', {}, el('legend', { text: 'Days' }), WEEKDAYS.map((label, i) => el('label', { class: 'inline', for: `rule-day-${i}` }, days[i], label))), field('Time of day', time)],
    Monthly: [field('Day of the month', dayOfMonth, 'A month without that day is skipped.'), field('Time of day', time.cloneNode())],
    Hourly: field('Minutes past the hour', minute),
    Periodic: el('div', { class: 'row' }, field('Every (minutes)', everyMinutes, 'At least 1.'), field('Offset (minutes)', offsetMinutes)),
  };
  // Weekly and Monthly share one time input; Monthly gets its own copy kept in step.
  const monthlyTime = parts.Monthly[1].querySelector('input');
  monthlyTime.id = 'rule-time-monthly';
  parts.Monthly[1].querySelector('label').htmlFor = 'rule-time-monthly';
  monthlyTime.value = time.value;
  const holder = el('div');
  const showParts = () => clear(holder, parts[frequency.value]);
  frequency.addEventListener('change', showParts);
  showParts();
  const extra = rule?.Schedules?.length > 1 ? el('p', { class: 'help', text: `This rule has ${rule.Schedules.length} schedules; this form edits the first and keeps the others.` }) : null;

  dialog({
    id: 'dlg-rule',
    title: rule ? `Edit ${rule.Description || id}` : 'New schedule',
    body: [
      field('Name', name),
      el('div', { class: 'row' }, field('Protected item', item), field('Storage vault', vault)),
      field('Frequency', frequency, 'Times are the device’s local time.'),
      holder,
      el('div', { class: 'row' }, field('Random delay (minutes)', delay), field('Only from', windowStart), field('Until', windowEnd)),
      el('label', { class: 'inline', for: 'rule-run-if-missed' }, runIfMissed, 'Run when the device starts if a run was missed'),
      el('label', { class: 'inline', for: 'rule-retention' }, retention, 'Apply the vault’s retention after each backup'),
      extra,
    ],
    submit: async () => {
      const number = (input, lo, hi, what) => {
        const n = Number(input.value);
        if (!Number.isInteger(n) || n < lo || n > hi) throw new Error(`${what}: a whole number from ${lo} to ${hi}`);
        return n;
      };
      let frequencyValue;
      switch (frequency.value) {
        case 'Daily': {
          const list = times.value.split(',').map((t) => t.trim()).filter(Boolean);
          if (!list.length) throw new Error('Give at least one time of day.');
          frequencyValue = { Type: 'Daily', Times: list.map(parseClock) };
          break;
        }
        case 'Weekly': {
          const chosen = days.map((d, i) => (d.checked ? i : -1)).filter((i) => i >= 0);
          if (!chosen.length) throw new Error('Choose at least one day.');
          frequencyValue = { Type: 'Weekly', Days: chosen, SecondsPast: parseClock(time.value) };
          break;
        }
        case 'Monthly':
          frequencyValue = { Type: 'Monthly', Day: number(dayOfMonth, 1, 31, 'Day of the month'), SecondsPast: parseClock(monthlyTime.value) };
          break;
        case 'Hourly':
          frequencyValue = { Type: 'Hourly', SecondsPast: number(minute, 0, 59, 'Minutes past the hour') * 60 };
          break;
        default: {
          const every = number(everyMinutes, 1, 525600, 'Every') * 60;
          frequencyValue = { Type: 'Periodic', EverySecs: every, OffsetSecs: number(offsetMinutes, 0, every / 60 - 1, 'Offset') * 60 };
        }
      }
      let windowValue = null;
      if (windowStart.value || windowEnd.value) {
        if (!windowStart.value || !windowEnd.value) throw new Error('A time window needs a start and an end.');
        windowValue = { StartSecs: parseClock(windowStart.value), EndSecs: parseClock(windowEnd.value) };
      }
      const schedule = { Frequency: frequencyValue, RandomDelaySecs: number(delay, 0, 1440, 'Random delay') * 60, Window: windowValue };
      if (!item.value || !vault.value) throw new Error('Choose a protected item and a vault.');
      await edit((c) => {
        c.BackupRules ??= {};
        const key = id ?? newId();
        const old = c.BackupRules[key] ?? { Schedules: [] };
        c.BackupRules[key] = {
          ...old,
          Description: name.value.trim() || `${nameOf(c, 'Sources', item.value)} to ${nameOf(c, 'Destinations', vault.value)}`,
          Source: item.value,
          Destination: vault.value,
          Schedules: [schedule, ...(old.Schedules ?? []).slice(1)],
          RunIfMissed: runIfMissed.checked,
          RetentionAfterBackup: retention.checked,
        };
      });
    },
  });
  name.focus();
}

const REPORT_STATUSES = [7002, 7001, 7004, 7007, 7005, 7003, 5000];

function reportsTab(username, state, edit) {
  const p = state.profile;
  const emails = el('textarea', { id: 'user-emails', spellcheck: 'false' });
  emails.value = (p.Emails ?? []).join('\n');
  const emailForm = el(
    'form',
    { class: 'card', id: 'emails-form' },
    field('E-mail addresses of the user', emails, 'One per line; reports without their own recipients go here.'),
    el('div', { class: 'form-end' }, el('button', { type: 'submit', class: 'primary', text: 'Save addresses' })),
  );
  emailForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const list = lines(emails.value);
    const bad = list.find((e) => !/^[^\s@]+@[^\s@]+$/.test(e));
    if (bad) {
      toast(`${bad} is not an e-mail address.`);
      return;
    }
    await edit((c) => (c.Emails = list));
    toast('Addresses saved.');
  });
  const rows = (p.EmailReports ?? []).map((r, i) => ({
    cells: [
      r.ReportType === 1 ? `Daily summary at ${String(r.SummaryHour).padStart(2, '0')}:00 UTC` : 'A mail per finished job',
      r.ReportType === 1 ? '—' : (r.Statuses ?? []).length ? r.Statuses.map(statusName).join(', ') : 'every job',
      (r.Recipients ?? []).length ? r.Recipients.join(', ') : el('span', { class: 'muted', text: 'the user’s addresses' }),
      {
        class: 'actions-cell',
        node: deleteButton({ title: 'Delete this report rule', text: 'No more mails of this rule.', action: () => edit((c) => c.EmailReports.splice(i, 1)) }),
      },
    ],
  }));
  return [
    emailForm,
    el('div', { class: 'actions' }, el('button', { type: 'button', id: 'report-new', class: 'primary', text: 'New report rule', on: { click: () => reportDialog(edit) } })),
    table([{ title: 'Kind' }, { title: 'Sent for' }, { title: 'Recipients' }, { title: '' }], rows, { empty: 'No report rules: no mails are sent for this user.', caption: 'E-mail report rules' }),
  ];
}

function reportDialog(edit) {
  const kind = select({ id: 'report-type' }, [['0', 'A mail per finished job'], ['1', 'A daily summary']]);
  const statuses = REPORT_STATUSES.map((code) => el('input', { type: 'checkbox', id: `report-status-${code}`, checked: code === 7002 || code === 7004 || code === 7007 }));
  const hour = el('input', { id: 'report-hour', type: 'number', min: '0', max: '23', value: '7' });
  const recipients = el('textarea', { id: 'report-recipients', spellcheck: 'false' });
  const statusBox = el('fieldset', {}, el('legend', { text: 'Send for (none: every job)' }), REPORT_STATUSES.map((code, i) => el('label', { class: 'inline', for: `report-status-${code}` }, statuses[i], statusName(code))));
  const hourBox = field('Hour (UTC)', hour);
  const toggle = () => {
    statusBox.hidden = kind.value !== '0';
    hourBox.hidden = kind.value !== '1';
  };
  kind.addEventListener('change', toggle);
  toggle();
  dialog({
    id: 'dlg-report',
    title: 'New report rule',
    body: [field('Kind', kind), statusBox, hourBox, field('Recipients', recipients, 'One per line; empty: the user’s addresses.')],
    submit: async () => {
      const list = lines(recipients.value);
      const bad = list.find((e) => !/^[^\s@]+@[^\s@]+$/.test(e));
      if (bad) throw new Error(`${bad} is not an e-mail address.`);
      const summary = kind.value === '1';
      const h = Number(hour.value);
      if (summary && (!Number.isInteger(h) || h < 0 || h > 23)) throw new Error('The hour is 0 to 23.');
      await edit((c) => {
        c.EmailReports ??= [];
        c.EmailReports.push({
          ReportType: summary ? 1 : 0,
          Statuses: summary ? [] : REPORT_STATUSES.filter((_, i) => statuses[i].checked),
          SummaryHour: summary ? h : 0,
          Recipients: list,
        });
      });
    },
  });
}

function resetPassword(username) {
  const password = el('input', { id: 'reset-password', type: 'password', autocomplete: 'new-password', minlength: 8 });
  dialog({
    id: 'dlg-reset-password',
    title: `Reset the password of ${username}`,
    submitText: 'Reset password',
    danger: true,
    body: [
      el('p', {
        text: 'Their sessions end. Vault secrets are wrapped with a key derived from the old password: with the new one, devices cannot open those vaults unless a device still logged in re-wraps them (comet-agent login change-password). Prefer letting the user change the password themselves.',
      }),
      field('New password', password, 'At least 8 characters.'),
    ],
    submit: async (dlg) => {
      if (password.value.length < 8) throw new Error('The password needs at least 8 characters.');
      const answer = await admin('reset-user-password', { TargetUser: username, NewPassword: password.value });
      clear(dlg.errorBox);
      toast(answer.Message || 'The password is reset.');
    },
  });
  password.focus();
}

function installToken(username) {
  const password = el('input', { id: 'token-password', type: 'password', autocomplete: 'off' });
  const result = el('div', { id: 'token-result' });
  dialog({
    id: 'dlg-install-token',
    title: `An install token for ${username}`,
    submitText: 'Make a token',
    body: [
      el('p', { text: 'A token lets one device join this account once, without typing the password: comet-agent login --token TOKEN --server URL. The server needs the user’s password to make it (it puts the key that opens the vaults in the token, then forgets both).' }),
      field('The user’s password', password),
      result,
    ],
    submit: async () => {
      const answer = await admin('create-install-token', { TargetUser: username, TargetPassword: password.value, Server: location.origin });
      password.value = '';
      clear(
        result,
        el('p', { text: `Valid until ${new Date(answer.ExpireTime * 1000).toLocaleString()}, once:` }),
        el('pre', { class: 'block', id: 'token-text', text: `comet-agent login --token ${answer.Token} --server ${answer.Server || location.origin}` }),
      );
      return true; // keep the dialog open to copy the token
    },
  });
  password.focus();
}

function deleteUser(username) {
  const confirmName = el('input', { id: 'delete-confirm-name', autocomplete: 'off' });
  dialog({
    id: 'dlg-delete-user',
    title: `Delete ${username}`,
    submitText: 'Delete user',
    danger: true,
    body: [
      el('p', { text: 'The account, its profile and its sessions go; devices stop working. Job history stays. Data in storage vaults is not deleted.' }),
      field(`Type ${username} to confirm`, confirmName),
    ],
    submit: async () => {
      if (confirmName.value !== username) throw new Error(`Type ${username} to confirm.`);
      await admin('delete-user', { TargetUser: username });
      toast(`${username} is deleted.`);
      go('users');
    },
  });
  confirmName.focus();
}
