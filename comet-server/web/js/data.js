// Views over the API's answers that several pages share.

import { clock } from './ui.js';

/** One key for a device of a user (device ids are per account). */
export function deviceKey(username, id) {
  return `${username}\n${id}`;
}

/**
 * Every device of `profiles` ({user: profile}) with its live connections (from
 * dispatcher/list-active): [{key, username, id, config, connections: [{id, ...conn}]}], sorted by
 * user then name. A connection of a device missing from the profiles is listed too.
 */
export function devicesOf(profiles, live) {
  const byDevice = new Map();
  for (const [username, profile] of Object.entries(profiles)) {
    for (const [id, config] of Object.entries(profile.Devices ?? {})) {
      const key = deviceKey(username, id);
      byDevice.set(key, { key, username, id, config, connections: [] });
    }
  }
  for (const [connId, conn] of Object.entries(live ?? {})) {
    const key = deviceKey(conn.Username, conn.DeviceID);
    if (!byDevice.has(key)) {
      byDevice.set(key, { key, username: conn.Username, id: conn.DeviceID, config: { FriendlyName: conn.DeviceID }, connections: [] });
    }
    byDevice.get(key).connections.push({ id: connId, ...conn });
  }
  return [...byDevice.values()].sort(
    (a, b) => a.username.localeCompare(b.username) || deviceName(a).localeCompare(deviceName(b)),
  );
}

export function deviceName(device) {
  return device.config?.FriendlyName || device.id;
}

/** The friendly name of device `id` of `profile`, or the id. */
export function nameOfDevice(profile, id) {
  return profile?.Devices?.[id]?.FriendlyName || id || '';
}

export function nameOf(profile, section, id) {
  return profile?.[section]?.[id]?.Description || id || '';
}

export const VAULT_TYPES = [
  ['1003', 'Comet server bucket'],
  ['1000', 'S3-compatible'],
  ['1002', 'Local path on the device'],
];

export function vaultType(code) {
  return VAULT_TYPES.find(([value]) => value === String(code))?.[1] ?? `Type ${code}`;
}

/** Protected items of `profile` owned by device `id`: [[itemId, item]]. */
export function itemsOfDevice(profile, id) {
  return Object.entries(profile?.Sources ?? {}).filter(([, s]) => s.OwnerDevice === id);
}

/** The include paths, exclude globs and exclude regexes of an item's EngineProps. */
export function rulesOf(item) {
  const props = item.EngineProps ?? {};
  const pick = (prefix) =>
    Object.keys(props)
      .filter((k) => new RegExp(`^${prefix}\\d+$`).test(k))
      .sort((a, b) => Number(a.slice(prefix.length)) - Number(b.slice(prefix.length)))
      .map((k) => props[k]);
  return { includes: pick('INCLUDE'), excludes: pick('EXCLUDE'), rexcludes: pick('REXCLUDE') };
}

/** EngineProps with the three lists replaced, other keys kept. */
export function withRules(props, { includes, excludes, rexcludes }) {
  const out = {};
  for (const [k, v] of Object.entries(props ?? {})) if (!/^(INCLUDE|EXCLUDE|REXCLUDE)\d+$/.test(k)) out[k] = v;
  includes.forEach((p, i) => (out[`INCLUDE${i}`] = p));
  excludes.forEach((p, i) => (out[`EXCLUDE${i}`] = p));
  rexcludes.forEach((p, i) => (out[`REXCLUDE${i}`] = p));
  return out;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
export const WEEKDAYS = DAYS;

function every(secs) {
  if (secs % 86400 === 0) return `${secs / 86400} d`;
  if (secs % 3600 === 0) return `${secs / 3600} h`;
  return `${Math.round(secs / 60)} min`;
}

/** A schedule in words (its times are the device's local time). */
export function describeSchedule(schedule) {
  const f = schedule.Frequency ?? {};
  let text;
  switch (f.Type) {
    case 'Once':
      text = `once, at ${new Date(f.At * 1000).toLocaleString()}`;
      break;
    case 'Hourly':
      text = `every hour at :${String(Math.floor((f.SecondsPast ?? 0) / 60)).padStart(2, '0')}`;
      break;
    case 'Daily':
      text = `daily at ${(f.Times ?? []).map(clock).join(', ')}`;
      break;
    case 'Weekly':
      text = `weekly on ${(f.Days ?? []).map((d) => DAYS[d]).join(', ')} at ${clock(f.SecondsPast ?? 0)}`;
      break;
    case 'Monthly':
      text = `monthly on day ${f.Day} at ${clock(f.SecondsPast ?? 0)}`;
      break;
    case 'Periodic':
      text = `every ${every(f.EverySecs)}${f.OffsetSecs ? ` (offset ${every(f.OffsetSecs)})` : ''}`;
      break;
    default:
      text = 'unknown schedule';
  }
  if (schedule.Window) text += `, only ${clock(schedule.Window.StartSecs)}–${clock(schedule.Window.EndSecs)}`;
  if (schedule.RandomDelaySecs) text += `, up to ${every(schedule.RandomDelaySecs)} later at random`;
  return text;
}

/** Items of `profile` that no backup rule with a schedule covers: [[itemId, item]]. */
export function unscheduledItems(profile) {
  const covered = new Set(
    Object.values(profile.BackupRules ?? {})
      .filter((r) => (r.Schedules ?? []).length)
      .map((r) => r.Source),
  );
  return Object.entries(profile.Sources ?? {}).filter(([id]) => !covered.has(id));
}

/** A retention policy in words. */
export function describeRetention(policy) {
  if (!policy || policy.Mode !== 802 || !(policy.Ranges ?? []).length) return 'keep everything';
  const parts = policy.Ranges.map((r) => {
    switch (r.Type) {
      case 900:
        return `the newest ${r.Jobs}`;
      case 901:
        return `since ${new Date(r.Timestamp * 1000).toLocaleDateString()}`;
      case 902: {
        const spans = [
          [r.Years, 'years'],
          [r.Months, 'months'],
          [r.Weeks, 'weeks'],
          [r.Days, 'days'],
        ].filter(([n]) => n);
        return `the last ${spans.map(([n, u]) => `${n} ${u}`).join(' ')}`;
      }
      case 907:
        return `one a day for ${r.Jobs} days`;
      case 908:
        return `one a week for ${r.Jobs} weeks`;
      case 909:
        return `one a month for ${r.Jobs} months`;
      case 910:
        return `one a year for ${r.Jobs} years`;
      default:
        return `rule ${r.Type}`;
    }
  });
  return `keep ${parts.join('; ')}`;
}

/** Orders directory entries ({Name, Type}) folders first, then by name. */
export function dirsFirst(a, b) {
  if (a.Type === b.Type) return a.Name.localeCompare(b.Name);
  return a.Type === 'dir' ? -1 : 1;
}
