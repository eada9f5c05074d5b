// Devices: online state, and the commands a connected device takes (back up now, restore,
// retention pass, read the profile again, reconnect, browse its disks, cancel a running job).
// The list refreshes itself in place every few seconds.

import { cancelJob, dispatch, isAdmin, liveConnections, visibleProfiles } from '../api.js';
import { go } from '../app.js';
import { deviceName, devicesOf, dirsFirst, itemsOfDevice } from '../data.js';
import { clear, confirmAction, dialog, el, field, fillSelect, fmtBytes, fmtCount, fmtTime, select, table, timeEl, toast } from '../ui.js';

const REFRESH_MS = 5000;

export async function render(ctx) {
  const adminView = isAdmin();
  let [profiles, live] = await Promise.all([visibleProfiles(), liveConnections()]);
  if (!ctx.alive()) return;

  const list = el('div', { id: 'device-list' });
  const rowsByKey = new Map();

  const actionButtons = (device) => {
    // The device as the latest refresh saw it (its connection id changes when it reconnects).
    const now = () => rowsByKey.get(device.key) ?? device;
    const button = (cls, text, handler) =>
      el('button', {
        type: 'button',
        class: `small ${cls}`,
        text,
        'aria-label': `${text}: ${deviceName(device)}`,
        on: {
          click: () => {
            const d = now();
            if (d.connections.length) handler(d.connections[0].id, profiles[d.username], d);
          },
        },
      });
    return [
      button('run-backup primary', 'Back up now', runBackup),
      button('restore', 'Restore', restore),
      adminView ? button('apply-retention', 'Retention pass', applyRetention) : null,
      button('browse', 'Browse disks', browse),
      button('refetch-profile', 'Reload profile', async (id) => {
        try {
          await dispatch('refetch-profile', id);
          toast(`${deviceName(device)} reads its profile again.`);
        } catch (e) {
          ctx.error(e);
        }
      }),
      button('drop-connection', 'Reconnect', (id) =>
        confirmAction({
          title: `Drop the connection of ${deviceName(device)}`,
          text: 'The device reconnects by itself within seconds; jobs it is running go on.',
          submitText: 'Drop connection',
          action: async () => {
            await dispatch('drop-connection', id);
            toast(`${deviceName(device)} was disconnected; it reconnects by itself.`);
          },
        }),
      ),
    ];
  };

  const runningCell = (device) => {
    const jobs = [...new Set(device.connections.flatMap((c) => c.RunningJobs ?? []))];
    if (!jobs.length) return el('span', { class: 'muted', text: 'none' });
    return el(
      'div',
      {},
      jobs.map((job) =>
        el(
          'div',
          { class: 'running-job' },
          el('a', { href: `#/jobs/${job}`, text: `Job ${job.slice(0, 8)}` }),
          ' ',
          el('button', {
            type: 'button',
            class: 'small danger cancel-job',
            text: 'Cancel',
            on: {
              click: async (event) => {
                event.target.disabled = true;
                try {
                  await cancelJob(device.username, job);
                  toast('The job is being cancelled.');
                } catch (e) {
                  ctx.error(e);
                }
              },
            },
          }),
        ),
      ),
    );
  };

  const stateCell = (device) => (device.connections.length ? el('span', { class: 'state-on', text: 'Online' }) : el('span', { class: 'state-off', text: 'Offline' }));
  const notesCell = (device) => {
    const c = device.connections[0];
    if (!c) return el('span', { class: 'muted', text: '—' });
    return el(
      'div',
      {},
      el('div', {}, 'since ', timeEl(c.ConnectionTime)),
      el('div', { class: 'muted', text: `${c.IPAddress || ''}` }),
      device.connections.length > 1 || c.Duplicate ? el('div', { class: 'error-text', text: `Connected ${device.connections.length} times: a cloned machine?` }) : null,
    );
  };

  const draw = () => {
    const devices = devicesOf(profiles, live);
    rowsByKey.clear();
    const rows = devices.map((d) => {
      const row = {
        dataset: { device: d.id, owner: d.username },
        cells: [
          el('strong', { text: deviceName(d) }),
          adminView ? el('a', { href: `#/users/${encodeURIComponent(d.username)}`, text: d.username }) : null,
          el('span', {}, d.connections[0]?.ReportedPlatform || d.config.PlatformVersion || '—', el('br'), el('span', { class: 'muted', text: d.connections[0]?.ReportedVersion || d.config.ClientVersion || '' })),
          { class: 'state', node: stateCell(d) },
          { class: 'connection', node: notesCell(d) },
          { class: 'running', node: runningCell(d) },
          { class: 'actions-cell', node: actionButtons(d) },
        ].filter((c) => c !== null),
      };
      rowsByKey.set(d.key, d);
      return row;
    });
    const columns = [
      { title: 'Device' },
      ...(adminView ? [{ title: 'User' }] : []),
      { title: 'Platform · agent' },
      { title: 'State' },
      { title: 'Connection', class: 'hide-narrow' },
      { title: 'Running jobs' },
      { title: 'Commands' },
    ];
    clear(list, table(columns, rows, { empty: 'No devices yet: a device joins with comet-agent login, and comes online with comet-agent run.', caption: 'Devices', stack: true }));
    updateButtons();
  };

  // Enables the commands of online devices only (rows are in the order of devicesOf).
  const updateButtons = () => {
    const devices = [...rowsByKey.values()];
    list.querySelectorAll('tbody tr').forEach((tr, i) => {
      const on = Boolean(devices[i]?.connections.length);
      for (const b of tr.querySelectorAll('td.actions-cell button')) b.disabled = !on;
    });
  };

  // In place: the state, connection and running-job cells of known rows; a redraw only when
  // devices come or go (a row under the pointer is not replaced needlessly).
  const refresh = async () => {
    try {
      const [p, l] = await Promise.all([visibleProfiles(), liveConnections()]);
      if (!ctx.alive()) return;
      const before = [...rowsByKey.keys()].join('|');
      profiles = p;
      live = l;
      const devices = devicesOf(profiles, live);
      if (devices.map((d) => d.key).join('|') !== before) {
        draw();
        return;
      }
      const trs = list.querySelectorAll('tbody tr');
      devices.forEach((d, i) => {
        const tr = trs[i];
        if (!tr) return;
        rowsByKey.set(d.key, d);
        const swap = (selector, node) => {
          const td = tr.querySelector(selector);
          if (td && td.textContent !== node.textContent) clear(td, node);
        };
        swap('td.state', stateCell(d));
        swap('td.connection', notesCell(d));
        swap('td.running', runningCell(d));
      });
      updateButtons();
    } catch (e) {
      if (ctx.alive()) ctx.error(e);
    }
  };
  const timer = setInterval(refresh, REFRESH_MS);
  ctx.onLeave(() => clearInterval(timer));

  draw();
  clear(
    ctx.view,
    el('div', { class: 'page-head' }, el('h1', { text: 'Devices' }), el('div', { class: 'actions' }, el('button', { type: 'button', id: 'devices-refresh', text: 'Refresh', on: { click: refresh } }))),
    el('p', { class: 'help', text: 'Commands reach devices running comet-agent run; the list updates every few seconds.' }),
    list,
  );
}

function vaultOptions(profile) {
  return Object.entries(profile?.Destinations ?? {}).map(([id, d]) => [id, d.Description || id]);
}

function itemOptions(profile, deviceId) {
  return itemsOfDevice(profile, deviceId).map(([id, s]) => [id, s.Description || id]);
}

function runBackup(targetId, profile, device) {
  const item = select({ id: 'run-item' }, itemOptions(profile, device.id), { placeholder: 'Choose a protected item' });
  const vault = select({ id: 'run-vault' }, vaultOptions(profile), { placeholder: 'Choose a storage vault' });
  // A single choice is made already.
  if (item.options.length === 2) item.selectedIndex = 1;
  if (vault.options.length === 2) vault.selectedIndex = 1;
  const dlg = dialog({
    id: 'dlg-run-backup',
    title: `Back up ${deviceName(device)} now`,
    submitText: 'Start backup',
    body: [field('Protected item', item), field('Storage vault', vault)],
    submit: async () => {
      if (!item.value || !vault.value) throw new Error('Choose a protected item and a vault.');
      const answer = await dispatch('run-backup-custom', targetId, { Source: item.value, Destination: vault.value });
      go(`jobs/${answer.JobID}`);
    },
  });
  dlg.querySelector('button[type="submit"]').id = 'run-submit';
  item.focus();
}

function applyRetention(targetId, profile, device) {
  const vault = select({ id: 'retention-vault' }, vaultOptions(profile), { placeholder: 'Choose a storage vault' });
  const dlg = dialog({
    id: 'dlg-retention',
    title: `Retention pass from ${deviceName(device)}`,
    submitText: 'Start retention pass',
    body: [el('p', { text: 'The device deletes the snapshots that the vault’s retention rules do not keep, then the data only they used.' }), field('Storage vault', vault)],
    submit: async () => {
      if (!vault.value) throw new Error('Choose a vault.');
      const answer = await dispatch('apply-retention-rules', targetId, { Destination: vault.value });
      go(`jobs/${answer.JobID}`);
    },
  });
  dlg.querySelector('button[type="submit"]').id = 'retention-submit';
}

function restore(targetId, profile, device) {
  const item = select({ id: 'restore-item' }, itemOptions(profile, device.id), { placeholder: 'Choose a protected item' });
  const vault = select({ id: 'restore-vault' }, vaultOptions(profile), { placeholder: 'Choose a storage vault' });
  const snapshot = select({ id: 'restore-snapshot', disabled: true }, [], { placeholder: 'Choose a vault first' });
  const status = el('p', { class: 'help', id: 'restore-status', role: 'status' });
  const tree = el('ul', { id: 'restore-tree', class: 'tree', 'aria-label': 'Files in the snapshot' });
  const target = el('input', { id: 'restore-target', spellcheck: 'false', placeholder: '/home/someone/restored' });
  let snapshots = [];
  let loadedVault = '';

  const fillSnapshots = () => {
    const shown = snapshots.filter((s) => !item.value || !s.Source || s.Source === item.value);
    fillSelect(
      snapshot,
      shown.map((s) => [s.Snapshot, `${fmtTime(s.CreateTime)} · ${fmtCount(s.TotalFiles)} files · ${fmtBytes(s.TotalSize)}`]),
      { placeholder: shown.length ? 'Choose a snapshot' : 'No snapshots of this item in the vault' },
    );
    snapshot.disabled = !shown.length;
  };

  const loadSnapshots = async () => {
    if (!vault.value || vault.value === loadedVault) return;
    loadedVault = vault.value;
    status.textContent = 'Asking the device for the vault’s snapshots…';
    snapshot.disabled = true;
    clear(tree);
    try {
      const answer = await dispatch('request-vault-snapshots', targetId, { Destination: vault.value });
      if (loadedVault !== vault.value) return;
      snapshots = (answer.Snapshots ?? []).sort((a, b) => b.CreateTime - a.CreateTime);
      status.textContent = '';
      fillSnapshots();
    } catch (e) {
      loadedVault = '';
      status.textContent = `The device could not list the snapshots: ${e.message}`;
    }
  };

  const entry = (parent, e) => {
    const path = parent ? `${parent}/${e.Name}` : e.Name;
    const isDir = e.Type === 'dir';
    const box = el('input', { type: 'checkbox', value: path, 'aria-label': `Restore ${path}` });
    const children = el('ul', { class: 'tree', hidden: true });
    const li = el(
      'li',
      { dataset: { path } },
      el(
        'span',
        { class: 'entry' },
        el('label', {}, box, el('span', { class: isDir ? 'dir-name' : null, text: isDir ? `${e.Name}/` : e.Name })),
        isDir ? null : el('span', { class: 'muted', text: fmtBytes(e.Size) }),
      ),
    );
    if (isDir) {
      let loaded = false;
      const open = el('button', {
        type: 'button',
        class: 'small open',
        text: 'Open',
        'aria-expanded': 'false',
        'aria-label': `Open ${path}`,
        on: {
          click: async () => {
            const opening = children.hidden;
            if (opening && !loaded) {
              open.disabled = true;
              try {
                await list(children, path);
                loaded = true;
              } catch (err) {
                clear(children, el('li', { class: 'error-text', text: err.message }));
              } finally {
                open.disabled = false;
              }
            }
            children.hidden = !opening;
            open.textContent = opening ? 'Close' : 'Open';
            open.setAttribute('aria-expanded', String(opening));
          },
        },
      });
      li.querySelector('.entry').append(open);
      li.append(children);
    }
    return li;
  };

  const list = async (into, path) => {
    clear(into, el('li', { class: 'muted', text: 'Loading…' }));
    const answer = await dispatch('request-stored-objects', targetId, { Destination: vault.value, Snapshot: snapshot.value, Path: path });
    const entries = (answer.StoredObjects ?? []).sort(dirsFirst);
    clear(
      into,
      entries.length ? entries.map((e) => entry(path, e)) : el('li', { class: 'muted', text: 'empty' }),
      answer.Truncated ? el('li', { class: 'muted', text: 'More entries are not shown.' }) : null,
    );
  };

  item.addEventListener('change', fillSnapshots);
  vault.addEventListener('change', loadSnapshots);
  snapshot.addEventListener('change', async () => {
    clear(tree);
    if (!snapshot.value) return;
    status.textContent = 'Opening the snapshot on the device…';
    try {
      await list(tree, '');
      status.textContent = 'Tick what to restore (nothing ticked: the whole snapshot).';
    } catch (e) {
      status.textContent = `The device could not open the snapshot: ${e.message}`;
    }
  });

  const dlg = dialog({
    id: 'dlg-restore',
    title: `Restore to ${deviceName(device)}`,
    submitText: 'Start restore',
    body: [
      el('div', { class: 'row' }, field('Protected item', item), field('Storage vault', vault)),
      field('Snapshot', snapshot),
      status,
      tree,
      field('Restore into (a folder on the device)', target, 'An absolute path. Files keep their full path under it; a file already there with the same path is replaced.'),
    ],
    submit: async () => {
      if (!vault.value || !snapshot.value) throw new Error('Choose a vault and a snapshot.');
      const into = target.value.trim();
      if (!into.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(into)) throw new Error('The target must be an absolute path on the device.');
      const paths = [...tree.querySelectorAll('input[type="checkbox"]:checked')].map((b) => b.value);
      // A ticked folder covers what is under it.
      const picked = paths.filter((p) => !paths.some((q) => q !== p && p.startsWith(`${q}/`)));
      const source = item.value || snapshots.find((s) => s.Snapshot === snapshot.value)?.Source || '';
      const fields = { Source: source, Destination: vault.value, Path: into, Snapshot: snapshot.value };
      if (picked.length) fields.Paths = JSON.stringify(picked);
      const answer = await dispatch('run-restore-custom', targetId, fields);
      go(`jobs/${answer.JobID}`);
    },
  });
  dlg.querySelector('button[type="submit"]').id = 'restore-submit';
  item.focus();
}

function browse(targetId, profile, device) {
  const pathInput = el('input', { id: 'browse-path', value: '/', spellcheck: 'false' });
  const listing = el('div', { id: 'browse-list' });
  const show = async (path) => {
    pathInput.value = path;
    clear(listing, el('p', { class: 'muted', text: 'Asking the device…' }));
    try {
      const answer = await dispatch('request-filesystem-objects', targetId, { Path: path });
      const parent = path === '/' ? null : path.replace(/\/[^/]*\/?$/, '') || '/';
      const join = (name) => (path.endsWith('/') ? `${path}${name}` : `${path}/${name}`);
      const entries = (answer.StoredObjects ?? []).sort(dirsFirst);
      clear(
        listing,
        parent ? el('button', { type: 'button', class: 'small', text: '↑ Up', on: { click: () => show(parent) } }) : null,
        table(
          [{ title: 'Name' }, { title: 'Size', class: 'num' }, { title: 'Modified' }],
          entries.map((e) => ({
            cells: [
              e.Type === 'dir' ? el('button', { type: 'button', class: 'small', text: `${e.Name}/`, on: { click: () => show(join(e.Name)) } }) : e.Name,
              e.Type === 'dir' ? '' : fmtBytes(e.Size),
              fmtTime(e.ModifyTime),
            ],
          })),
          { empty: 'Empty folder.' },
        ),
        answer.Truncated ? el('p', { class: 'muted', text: 'Only the first entries are shown.' }) : null,
      );
    } catch (e) {
      clear(listing, el('p', { class: 'error-text', text: e.message }));
    }
  };
  const dlg = dialog({
    id: 'dlg-browse',
    title: `Disks of ${deviceName(device)}`,
    submitText: 'Go',
    body: [field('Folder', pathInput), listing],
    submit: async () => {
      await show(pathInput.value.trim() || '/');
      return true;
    },
  });
  dlg.classList.add('wide');
  show('/');
}
