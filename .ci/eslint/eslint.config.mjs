// ESLint for the web interface (comet-server/web/js), run by .ci/run: the browser test drives the
// main flows, this catches undefined names and unused variables on every path. Kept here, not
// under web/, because every file under web/ is embedded in the server and served.
import globals from 'globals';

export default [
  {
    basePath: '../..',
    files: ['**/*.js'],
    languageOptions: { ecmaVersion: 2024, sourceType: 'module', globals: { ...globals.browser } },
    rules: {
      'no-undef': 'error',
      'no-unused-vars': 'error',
      'no-unreachable': 'error',
      'no-dupe-keys': 'error',
      'no-const-assign': 'error',
      'no-self-assign': 'error',
      'no-redeclare': 'error',
      eqeqeq: 'error',
    },
  },
];
