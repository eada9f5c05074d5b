// The application shell: navigation, routing (#/page/...), and what every page shares. Each
// page is a module under pages/ with `render(ctx)`; while it loads, main#main is
// aria-busy="true", and data-page names the page on show.

import { ApiError, admin, forgetSession, isAdmin, session, signOut } from './api.js';
import { clear, closeDialogs, el, zone } from './ui.js';

const ADMIN_NAV = [
  ['dashboard', 'Dashboard'],
  ['users', 'Users'],
  ['devices', 'Devices'],
  ['jobs', 'Jobs'],
  ['storage', 'Storage'],
  ['settings', 'Settings'],
  ['account', 'Account'],
];
const USER_NAV = [
  ['dashboard', 'Dashboard'],
  ['profile', 'Backups'],
  ['devices', 'Devices'],
  ['jobs', 'Jobs'],
  ['account', 'Account'],
];

// [pattern, page name, module]; captures are the page's parameters.
const ROUTES = [
  [/^signin$/, 'signin', () => import('./login.js')],
  [/^dashboard$/, 'dashboard', () => import('./pages/dashboard.js')],
  [/^users$/, 'users', () => import('./pages/users.js')],
  [/^users\/([A-Za-z0-9_.@-]{1,255})$/, 'user', () => import('./pages/user.js')],
  [/^profile$/, 'user', () => import('./pages/user.js')],
  [/^devices$/, 'devices', () => import('./pages/devices.js')],
  [/^jobs$/, 'jobs', () => import('./pages/jobs.js')],
  [/^jobs\/([0-9a-f]{32})$/, 'job', () => import('./pages/job.js')],
  [/^storage$/, 'storage', () => import('./pages/storage.js')],
  [/^settings$/, 'settings', () => import('./pages/settings.js')],
  [/^account$/, 'account', () => import('./pages/account.js')],
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const menu = document.getElementById('menu');
let generation = 0;
let cleanups = [];
let flash = '';

/** A message for the next page (after a redirect). */
export function setFlash(text) {
  flash = text;
}

export function takeFlash() {
  const text = flash;
  flash = '';
  return text;
}

export function go(route) {
  if (location.hash === `#/${route}`) render();
  else location.hash = `#/${route}`;
}

function current() {
  return decodeURIComponent(location.hash.replace(/^#\/?/, ''));
}

function buildNav(route) {
  const s = session();
  if (!s) {
    nav.hidden = true;
    menu.hidden = true;
    clear(document.getElementById('who'));
    return;
  }
  const top = route.split('/')[0];
  const links = (s.kind === 'admin' ? ADMIN_NAV : USER_NAV).map(([name, label]) =>
    el('a', { href: `#/${name}`, text: label, 'aria-current': top === name ? 'page' : null }),
  );
  const signout = el('button', {
    type: 'button',
    id: 'signout',
    text: 'Sign out',
    on: {
      click: async () => {
        await signOut();
        go('signin');
      },
    },
  });
  clear(nav, links, el('div', { class: 'nav-end' }, signout));
  nav.hidden = false;
  menu.hidden = false;
  clear(
    document.getElementById('who'),
    `${s.username} · ${s.kind === 'admin' ? 'administrator' : 'user'}`,
  );
}

// On a phone the navigation is folded under the menu button (style.css hides it unless open).
function foldNav(folded) {
  nav.classList.toggle('open', !folded);
  menu.setAttribute('aria-expanded', String(!folded));
}

menu.addEventListener('click', () => foldNav(nav.classList.contains('open')));
nav.addEventListener('click', (event) => {
  if (event.target.closest('a')) foldNav(true);
});
document.getElementById('skip').addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});

/** Shows an error above the page's content. */
function showError(box, error) {
  clear(box, error.message || String(error));
  box.hidden = false;
}

async function render() {
  const route = current();
  const s = session();
  if (!s && route !== 'signin') {
    location.replace('#/signin');
    return;
  }
  if (s && (route === '' || route === 'signin')) {
    location.replace('#/dashboard');
    return;
  }
  generation += 1;
  const mine = generation;
  for (const fn of cleanups) fn();
  cleanups = [];
  closeDialogs();
  buildNav(route);
  foldNav(true);

  const found = ROUTES.map(([pattern, name, load]) => [pattern.exec(route), name, load]).find(([m]) => m);
  main.setAttribute('aria-busy', 'true');
  const errorBox = el('div', { id: 'page-error', class: 'alert', role: 'alert' });
  const view = el('div', { class: 'view' });
  clear(main, errorBox, view);
  if (!found) {
    main.dataset.page = 'notfound';
    clear(view, el('h1', { text: 'Not found' }), el('p', {}, 'There is no page here. ', el('a', { href: '#/dashboard', text: 'Go to the dashboard' })));
    main.setAttribute('aria-busy', 'false');
    return;
  }
  const [match, name, load] = found;
  main.dataset.page = name;
  const ctx = {
    view,
    params: match.slice(1),
    alive: () => mine === generation,
    onLeave: (fn) => cleanups.push(fn),
    error: (e) => {
      if (mine === generation) showError(errorBox, e);
    },
    clearError: () => clear(errorBox),
    errorBox,
    rerender: () => render(),
  };
  try {
    const module = await load();
    await module.render(ctx);
  } catch (e) {
    if (mine !== generation) return;
    if (e instanceof ApiError && e.isExpired) return; // handled by the comet:expired listener
    if (e instanceof ApiError && e.isDenied) {
      main.dataset.page = 'denied';
      clear(
        view,
        el('h1', { text: 'Not allowed' }),
        el('p', { text: 'This page is for administrators. The server refused it for your account.' }),
        el('p', {}, el('a', { href: '#/dashboard', text: 'Go to your dashboard' })),
      );
    }
    showError(errorBox, e);
  }
  if (mine === generation) {
    main.setAttribute('aria-busy', 'false');
    document.title = `${view.querySelector('h1')?.textContent || 'Comet'} · ${document.getElementById('brand-name').textContent}`;
  }
}

window.addEventListener('comet:expired', () => {
  if (!session()) return;
  forgetSession();
  setFlash('Your session has expired. Sign in again.');
  go('signin');
});

window.addEventListener('hashchange', () => {
  render().then(() => {
    if (document.activeElement === document.body || !document.activeElement) main.focus({ preventScroll: true });
  });
});

async function brand() {
  // The brand name of the settings, for administrators (users keep "Comet").
  if (!isAdmin()) return;
  try {
    const settings = await admin('meta/settings/get');
    if (settings.BrandName) document.getElementById('brand-name').textContent = settings.BrandName;
  } catch {
    // Not worth an error on every page: the name stays "Comet".
  }
}

export function refreshBrand() {
  brand();
}

clear(document.getElementById('foot'), `Comet · times are shown in your time zone, ${zone()}.`);
window.addEventListener('comet:signed-in', brand);
brand();
render();
