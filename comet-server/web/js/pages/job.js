// One job: its properties and its log, with a severity filter; while it runs, both refresh
// every two seconds (the log follows its end unless the reader scrolled up).

import { ApiError, cancelJob, isAdmin, own, profileAndHash } from '../api.js';
import { nameOf, nameOfDevice } from '../data.js';
import { clear, el, fmtBytes, fmtCount, jobDuration, jobKind, select, statusClass, statusName, timeEl, toast } from '../ui.js';

const POLL_MS = 2000;
/** How long a job just started by a command may take to appear. */
const APPEAR_MS = 15000;

export async function render(ctx) {
  const jobId = ctx.params[0];
  const started = Date.now();
  let job;
  for (;;) {
    try {
      job = await own('get-job-properties', { JobID: jobId });
      break;
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404) || Date.now() - started > APPEAR_MS || !ctx.alive()) throw e;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  if (!ctx.alive()) return;
  let profile = null;
  try {
    profile = (await profileAndHash(job.Username)).Profile;
  } catch {
    // A deleted user's jobs stay: ids are shown instead of names.
  }

  const statusEl = el('span', { id: 'job-status', class: 'badge' });
  const props = el('dl', { id: 'job-props', class: 'props' });
  const severity = select({ id: 'log-severity' }, [
    ['', 'Everything'],
    ['I', 'Information and above'],
    ['W', 'Warnings and errors'],
    ['E', 'Errors only'],
  ]);
  const logBody = el('tbody');
  const logTable = el(
    'div',
    { class: 'table-wrap', id: 'job-log-wrap' },
    el('table', { id: 'job-log' }, el('caption', { class: 'sr-only', text: 'Job log' }), el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: 'Time' }), el('th', { scope: 'col', text: 'Severity' }), el('th', { scope: 'col', text: 'Message' }))), logBody),
  );
  const logCount = el('p', { class: 'muted', role: 'status' });
  const cancel = el('button', { type: 'button', id: 'job-cancel', class: 'danger', text: 'Cancel job' });
  cancel.addEventListener('click', async () => {
    cancel.disabled = true;
    try {
      await cancelJob(job.Username, job.GUID);
      toast('Cancelling: the device stops the job within seconds.');
    } catch (e) {
      ctx.error(e);
      cancel.disabled = false;
    }
  });

  const drawProps = () => {
    clear(statusEl, statusName(job.Status));
    statusEl.className = `badge ${statusClass(job.Status)}`;
    cancel.hidden = job.Status !== 6001;
    const rows = [
      ['Kind', jobKind(job.Classification)],
      ...(isAdmin() ? [['User', el('a', { href: `#/users/${encodeURIComponent(job.Username)}`, text: job.Username })]] : []),
      ['Device', nameOfDevice(profile, job.DeviceID)],
      ['Protected item', nameOf(profile, 'Sources', job.SourceGUID) || '—'],
      ['Storage vault', nameOf(profile, 'Destinations', job.DestinationGUID) || '—'],
      ['Started', timeEl(job.StartTime)],
      ['Ended', job.EndTime ? timeEl(job.EndTime) : el('span', { class: 'muted', text: 'still running' })],
      ['Duration', jobDuration(job)],
      ['Files', fmtCount(job.TotalFiles)],
      ['Folders', fmtCount(job.TotalDirectories)],
      ['Size', fmtBytes(job.TotalSize)],
      ['Uploaded', fmtBytes(job.UploadSize)],
      ['Downloaded', fmtBytes(job.DownloadSize)],
      ['Snapshot', job.SnapshotID ? el('code', { text: job.SnapshotID }) : '—'],
      ['Agent version', job.ClientVersion || '—'],
      ['Job id', el('code', { text: job.GUID })],
    ];
    clear(props, rows.map(([dt, dd]) => [el('dt', { text: dt }), el('dd', {}, dd)]));
  };

  const loadLog = async () => {
    const fields = { JobID: jobId };
    if (severity.value) fields.MinSeverity = severity.value;
    const entries = await own('get-job-log-entries', fields);
    if (!ctx.alive()) return;
    const wrap = logTable;
    const atEnd = wrap.scrollHeight - wrap.scrollTop - wrap.clientHeight < 40;
    clear(
      logBody,
      entries.map((e) =>
        el('tr', { class: `sev-${e.Severity}` }, el('td', {}, timeEl(e.Time)), el('td', { text: { D: 'Debug', I: 'Info', W: 'Warning', E: 'Error' }[e.Severity] ?? e.Severity }), el('td', { text: e.Message })),
      ),
    );
    logCount.textContent = `${entries.length} log entr${entries.length === 1 ? 'y' : 'ies'}`;
    if (atEnd) wrap.scrollTop = wrap.scrollHeight;
  };

  severity.addEventListener('change', () => loadLog().catch(ctx.error));
  drawProps();
  await loadLog();
  if (!ctx.alive()) return;

  let timer = null;
  const poll = async () => {
    try {
      job = await own('get-job-properties', { JobID: jobId });
      if (!ctx.alive()) return;
      drawProps();
      await loadLog();
    } catch (e) {
      ctx.error(e);
    }
    if (ctx.alive() && job.Status === 6001) timer = setTimeout(poll, POLL_MS);
  };
  if (job.Status === 6001) timer = setTimeout(poll, POLL_MS);
  ctx.onLeave(() => clearTimeout(timer));

  clear(
    ctx.view,
    el('p', {}, el('a', { href: '#/jobs', text: '← Jobs' })),
    el('div', { class: 'page-head' }, el('h1', {}, `${jobKind(job.Classification)} job `, statusEl), el('div', { class: 'actions' }, cancel)),
    el('div', { class: 'card' }, props),
    el('div', { class: 'page-head' }, el('h2', { text: 'Log' }), el('div', {}, el('label', { for: 'log-severity', class: 'sr-only', text: 'Show' }), severity)),
    logCount,
    logTable,
  );
}
