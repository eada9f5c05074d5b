// The dashboard: how many users and devices, jobs of the last 24 hours by status, the last ten
// days of every device by its worst job of each day, and what needs a look (devices without a
// recent backup, items without a schedule, outdated agents).

import { admin, isAdmin, jobsBetween, liveConnections, visibleProfiles } from '../api.js';
import { deviceKey, deviceName, devicesOf, nameOf, unscheduledItems } from '../data.js';
import {
  clear,
  compareVersions,
  el,
  fmtDay,
  localMidnight,
  severity,
  statusClass,
  statusName,
  table,
  timeEl,
} from '../ui.js';

const DAYS = 10;
const SYMBOL = { 's-ok': '✓', 's-warn': '!', 's-bad': '✕', 's-run': '…', 's-odd': '?', 's-none': '–' };

export async function render(ctx) {
  const adminView = isAdmin();
  const [profiles, live, settings, version] = await Promise.all([
    visibleProfiles(),
    liveConnections(),
    adminView ? admin('meta/settings/get') : Promise.resolve({ StaleDeviceDays: 3, MinimumAgentVersion: '' }),
    adminView ? admin('meta/version') : Promise.resolve(null),
  ]);
  const now = Math.floor(Date.now() / 1000);
  const staleDays = settings.StaleDeviceDays || 3;
  const firstDay = new Date();
  firstDay.setDate(firstDay.getDate() - (DAYS - 1));
  const historyStart = Math.min(localMidnight(firstDay), now - (staleDays + 1) * 86400);
  const jobs = await jobsBetween(historyStart, now + 86400);
  if (!ctx.alive()) return;

  const devices = devicesOf(profiles, live);
  const online = devices.filter((d) => d.connections.length);
  const recent = jobs.filter((j) => j.StartTime >= now - 86400);
  const byStatus = new Map();
  for (const j of recent) byStatus.set(j.Status, (byStatus.get(j.Status) ?? 0) + 1);

  const stat = (value, label, detail) =>
    el('div', { class: 'stat' }, el('div', { class: 'value', text: String(value) }), el('div', { class: 'label', text: label }), detail);
  const statuses = [...byStatus.entries()].sort((a, b) => severity(b[0]) - severity(a[0]));
  const cards = el(
    'div',
    { class: 'cards' },
    adminView ? stat(Object.keys(profiles).length, 'users') : null,
    stat(devices.length, 'devices', el('div', { class: 'detail' }, el('span', { class: 'state-on', text: `${online.length} online` }), ` · ${devices.length - online.length} offline`)),
    stat(
      recent.length,
      'jobs in the last 24 hours',
      el('div', { class: 'detail' }, statuses.length ? statuses.map(([code, n]) => [el('span', { class: `badge ${statusClass(code)}`, text: `${n} ${statusName(code)}` }), ' ']) : 'none'),
    ),
  );

  // The grid: one row per device, one column per local day, the worst status of the day.
  const days = [];
  for (let i = 0; i < DAYS; i += 1) {
    const d = new Date(firstDay);
    d.setDate(firstDay.getDate() + i);
    days.push(d);
  }
  const dayStarts = days.map((d) => localMidnight(d));
  const worst = new Map();
  const lastGood = new Map();
  for (const j of jobs) {
    const key = deviceKey(j.Username, j.DeviceID);
    const day = dayStarts.findLastIndex((start) => j.StartTime >= start);
    if (day >= 0) {
      const cell = `${key}\n${day}`;
      const seen = worst.get(cell);
      worst.set(cell, { code: !seen || severity(j.Status) > severity(seen.code) ? j.Status : seen.code, count: (seen?.count ?? 0) + 1 });
    }
    if (j.Classification === 4001 && (j.Status === 5000 || j.Status === 7001)) {
      lastGood.set(key, Math.max(lastGood.get(key) ?? 0, j.EndTime || j.StartTime));
    }
  }
  const gridRows = devices.map((d) => {
    const key = d.key;
    return {
      cells: [
        adminView ? el('a', { href: `#/users/${encodeURIComponent(d.username)}`, text: d.username }) : null,
        el('span', {}, deviceName(d), d.connections.length ? el('span', { class: 'sr-only', text: ' (online)' }) : null),
        ...dayStarts.map((_, i) => {
          const cell = worst.get(`${key}\n${i}`);
          const cls = cell ? statusClass(cell.code) : 's-none';
          const label = cell ? `${fmtDay(days[i])}: ${cell.count} job${cell.count > 1 ? 's' : ''}, worst ${statusName(cell.code)}` : `${fmtDay(days[i])}: no jobs`;
          return { class: 'day', node: el('span', { class: `cell ${cell ? cls : 's-none'}`, title: label, role: 'img', 'aria-label': label, text: cell ? SYMBOL[cls] : '' }) };
        }),
      ].filter((c) => c !== null),
    };
  });
  const gridColumns = [
    ...(adminView ? [{ title: 'User' }] : []),
    { title: 'Device' },
    // A phone shows the last four days (style.css hides the older ones).
    ...days.map((d, i) => ({ title: fmtDay(d), class: i < DAYS - 4 ? 'day old' : 'day' })),
  ];
  const legend = el(
    'div',
    { class: 'legend', 'aria-hidden': 'true' },
    [
      ['s-ok', 'Success'],
      ['s-warn', 'Warning'],
      ['s-bad', 'Error'],
      ['s-odd', 'Missed or abandoned'],
      ['s-run', 'Running'],
      ['s-none', 'No job, skipped or cancelled'],
    ].map(([cls, text]) => el('span', {}, el('span', { class: `cell ${cls}`, text: SYMBOL[cls] }), text)),
  );

  // What needs a look.
  const stale = devices.filter((d) => (lastGood.get(d.key) ?? 0) < now - staleDays * 86400);
  const unscheduled = Object.entries(profiles).flatMap(([username, p]) =>
    unscheduledItems(p).map(([id, item]) => ({ username, id, item, device: p.Devices?.[item.OwnerDevice]?.FriendlyName || item.OwnerDevice })),
  );
  const minimum = settings.MinimumAgentVersion || version?.Version || '';
  const versionOf = (d) => d.connections[0]?.ReportedVersion || d.config.ClientVersion || '';
  const outdated = minimum ? devices.filter((d) => versionOf(d) && compareVersions(versionOf(d), minimum) < 0) : [];

  const userCell = (username) => (adminView ? [el('a', { href: `#/users/${encodeURIComponent(username)}`, text: username })] : []);
  const userCol = adminView ? [{ title: 'User' }] : [];
  clear(
    ctx.view,
    el('h1', { text: 'Dashboard' }),
    cards,
    el('h2', { text: `The last ${DAYS} days` }),
    legend,
    el('div', { class: 'grid' }, table(gridColumns, gridRows, { empty: 'No devices yet: log a device in with comet-agent login.', caption: 'Worst job status per device and day' })),
    el('h2', { text: `Devices without a successful backup in ${staleDays} day${staleDays > 1 ? 's' : ''}` }),
    table(
      [...userCol, { title: 'Device' }, { title: 'State' }, { title: 'Last successful backup' }],
      stale.map((d) => ({
        cells: [
          ...userCell(d.username),
          deviceName(d),
          d.connections.length ? el('span', { class: 'state-on', text: 'Online' }) : el('span', { class: 'state-off', text: 'Offline' }),
          lastGood.has(d.key) ? timeEl(lastGood.get(d.key)) : el('span', { class: 'muted', text: 'none recently' }),
        ],
      })),
      { empty: 'Every device has a recent successful backup.' },
    ),
    el('h2', { text: 'Protected items without a schedule' }),
    table(
      [...userCol, { title: 'Protected item' }, { title: 'Device' }],
      unscheduled.map((u) => ({ cells: [...userCell(u.username), u.item.Description || u.id, u.device] })),
      { empty: 'Every protected item has a schedule.' },
    ),
    el('h2', { text: `Agents older than ${minimum || 'the server'}` }),
    table(
      [...userCol, { title: 'Device' }, { title: 'Agent version' }],
      outdated.map((d) => ({ cells: [...userCell(d.username), deviceName(d), versionOf(d)] })),
      { empty: 'Every agent is up to date.' },
    ),
    recent.length
      ? [
          el('h2', { text: 'Latest jobs' }),
          table(
            [...userCol, { title: 'Status' }, { title: 'Device' }, { title: 'Item' }, { title: 'Started' }],
            recent.slice(0, 10).map((j) => ({
              dataset: { recentJob: j.GUID },
              cells: [
                ...userCell(j.Username),
                el('a', { href: `#/jobs/${j.GUID}` }, el('span', { class: `badge ${statusClass(j.Status)}`, text: statusName(j.Status) })),
                profiles[j.Username]?.Devices?.[j.DeviceID]?.FriendlyName || j.DeviceID,
                nameOf(profiles[j.Username], 'Sources', j.SourceGUID),
                timeEl(j.StartTime),
              ],
            })),
          ),
        ]
      : null,
  );
}
