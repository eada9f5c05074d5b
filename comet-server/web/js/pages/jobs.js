// Jobs: filter by status, user, device and dates; CSV export of what the filters show.

import { isAdmin, jobsBetween, session, visibleProfiles } from '../api.js';
import { deviceKey, nameOf } from '../data.js';
import {
  STATUS_CODES,
  clear,
  csvField,
  download,
  el,
  field,
  fmtBytes,
  fmtCount,
  jobDuration,
  jobKind,
  localMidnight,
  pager,
  select,
  statusBadge,
  statusName,
  table,
  timeEl,
} from '../ui.js';

const PAGE = 50;
// The filters, kept while the same account moves between pages.
const filters = { who: '', status: '', user: '', device: '', from: '', to: '' };

function isoDate(d) {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

function parseDate(text) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  return m ? new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : null;
}

export async function render(ctx) {
  const adminView = isAdmin();
  const who = `${session().kind}:${session().username}`;
  if (filters.who !== who) Object.assign(filters, { who, status: '', user: '', device: '', from: '', to: '' });
  const today = new Date();
  const weekAgo = new Date();
  weekAgo.setDate(today.getDate() - 6);
  filters.from ||= isoDate(weekAgo);
  filters.to ||= isoDate(today);

  const profiles = await visibleProfiles();
  if (!ctx.alive()) return;

  const status = select({ id: 'filter-status' }, [['', 'All statuses'], ...STATUS_CODES.map((c) => [String(c), statusName(c)])], { selected: filters.status });
  const users = Object.keys(profiles).sort();
  const user = adminView ? select({ id: 'filter-user' }, [['', 'All users'], ...users.map((u) => [u, u])], { selected: filters.user }) : null;
  const device = el('select', { id: 'filter-device' });
  const from = el('input', { id: 'filter-from', type: 'date', value: filters.from });
  const to = el('input', { id: 'filter-to', type: 'date', value: filters.to });
  const csv = el('button', { type: 'button', id: 'jobs-csv', text: 'Export CSV' });
  const count = el('p', { class: 'muted', role: 'status' });
  const list = el('div', { id: 'job-list' });
  let jobs = [];
  let shown = [];

  const fillDevices = () => {
    const options = [];
    for (const [u, p] of Object.entries(profiles)) {
      if (user && user.value && u !== user.value) continue;
      for (const [id, d] of Object.entries(p.Devices ?? {})) options.push([deviceKey(u, id), adminView ? `${d.FriendlyName || id} (${u})` : d.FriendlyName || id]);
    }
    options.sort((a, b) => a[1].localeCompare(b[1]));
    const keep = device.value || filters.device;
    clear(device, el('option', { value: '', text: 'All devices' }), options.map(([v, l]) => el('option', { value: v, text: l })));
    if (options.some(([v]) => v === keep)) device.value = keep;
  };

  const deviceLabel = (j) => profiles[j.Username]?.Devices?.[j.DeviceID]?.FriendlyName || j.DeviceID || '';

  const draw = () => {
    shown = jobs.filter(
      (j) =>
        (!status.value || String(j.Status) === status.value) &&
        (!user || !user.value || j.Username === user.value) &&
        (!device.value || deviceKey(j.Username, j.DeviceID) === device.value),
    );
    count.textContent = `${shown.length} job${shown.length === 1 ? '' : 's'}`;
    clear(
      list,
      pager(shown, PAGE, (slice) =>
        table(
          [
            { title: 'Status' },
            { title: 'Kind' },
            ...(adminView ? [{ title: 'User' }] : []),
            { title: 'Device' },
            { title: 'Protected item', class: 'hide-narrow' },
            { title: 'Vault', class: 'hide-narrow' },
            { title: 'Started' },
            { title: 'Duration', class: 'hide-narrow' },
            { title: 'Files', class: 'num hide-narrow' },
            { title: 'Size', class: 'num' },
          ],
          slice.map((j) => ({
            dataset: { job: j.GUID },
            cells: [
              el('a', { href: `#/jobs/${j.GUID}`, 'aria-label': `${statusName(j.Status)} job of ${timeEl(j.StartTime).textContent}` }, statusBadge(j.Status)),
              jobKind(j.Classification),
              ...(adminView ? [j.Username] : []),
              deviceLabel(j),
              nameOf(profiles[j.Username], 'Sources', j.SourceGUID),
              nameOf(profiles[j.Username], 'Destinations', j.DestinationGUID),
              timeEl(j.StartTime),
              jobDuration(j),
              fmtCount(j.TotalFiles),
              fmtBytes(j.TotalSize),
            ],
          })),
          { empty: 'No jobs match.', caption: 'Jobs' },
        ),
      ),
    );
  };

  const load = async () => {
    const start = parseDate(from.value);
    const end = parseDate(to.value);
    if (!start || !end || end < start) {
      ctx.error(new Error('Choose a start date on or before the end date.'));
      return;
    }
    ctx.clearError();
    end.setDate(end.getDate() + 1);
    jobs = await jobsBetween(localMidnight(start), localMidnight(end));
    draw();
  };

  const remember = () => Object.assign(filters, { status: status.value, user: user?.value ?? '', device: device.value, from: from.value, to: to.value });
  status.addEventListener('change', () => (remember(), draw()));
  device.addEventListener('change', () => (remember(), draw()));
  user?.addEventListener('change', () => (fillDevices(), remember(), draw()));
  for (const input of [from, to]) {
    input.addEventListener('change', async () => {
      remember();
      try {
        await load();
      } catch (e) {
        ctx.error(e);
      }
    });
  }
  csv.addEventListener('click', () => {
    const header = ['JobID', 'Status', 'Kind', 'User', 'Device', 'Protected item', 'Vault', 'Start (UTC)', 'End (UTC)', 'Files', 'Directories', 'Size', 'Uploaded', 'Downloaded', 'Snapshot'];
    const iso = (s) => (s ? new Date(s * 1000).toISOString() : '');
    const rows = shown.map((j) => [
      j.GUID,
      statusName(j.Status),
      jobKind(j.Classification),
      j.Username,
      deviceLabel(j),
      nameOf(profiles[j.Username], 'Sources', j.SourceGUID),
      nameOf(profiles[j.Username], 'Destinations', j.DestinationGUID),
      iso(j.StartTime),
      iso(j.EndTime),
      j.TotalFiles,
      j.TotalDirectories,
      j.TotalSize,
      j.UploadSize,
      j.DownloadSize,
      j.SnapshotID,
    ]);
    const text = [header, ...rows].map((r) => r.map(csvField).join(',')).join('\r\n');
    download(`comet-jobs-${from.value}-to-${to.value}.csv`, `${text}\r\n`);
  });

  fillDevices();
  await load();
  if (!ctx.alive()) return;
  clear(
    ctx.view,
    el('div', { class: 'page-head' }, el('h1', { text: 'Jobs' }), el('div', { class: 'actions' }, csv, el('button', { type: 'button', id: 'jobs-refresh', text: 'Refresh', on: { click: () => load().catch(ctx.error) } }))),
    el(
      'div',
      { class: 'toolbar', role: 'search', 'aria-label': 'Filter the jobs' },
      el('div', {}, field('Status', status)),
      user ? el('div', {}, field('User', user)) : null,
      el('div', {}, field('Device', device)),
      el('div', {}, field('From', from)),
      el('div', {}, field('To', to)),
    ),
    count,
    list,
  );
}
