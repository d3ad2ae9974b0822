/**
 * The folder of the built page (static files: index.html and assets/), for serving it.
 * @example import { webDist } from '@normkit/web'; webDist(); // '/…/node_modules/@normkit/web/dist'
 */
export declare function webDist(): string;
