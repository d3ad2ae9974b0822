const { join } = require('node:path');

/**
 * The folder of the built page (static files: index.html and assets/), for serving it.
 * @example const { webDist } = require('@normkit/web'); webDist(); // '/…/node_modules/@normkit/web/dist'
 */
function webDist() {
  return join(__dirname, '..', 'dist');
}

module.exports = { webDist };
