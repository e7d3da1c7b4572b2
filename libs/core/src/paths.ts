import * as fs from 'node:fs';
import * as path from 'node:path';

let cachedRoot: string | undefined;

/**
 * The repository root, where connectors/, mappings/ and schemas/ live as data. Found by walking up
 * from this file, so it is the same from sources (tests) and from dist/ (production build).
 * HUB_HOME overrides it for installs that move the data folders elsewhere.
 */
export function projectRoot(): string {
  if (cachedRoot) return cachedRoot;
  if (process.env.HUB_HOME) return (cachedRoot = path.resolve(process.env.HUB_HOME));
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'schemas')) && fs.existsSync(path.join(dir, 'package.json'))) {
      return (cachedRoot = dir);
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the Omnihub root above ${__dirname}; set HUB_HOME`);
    dir = parent;
  }
}

/** Where compiled code lives: the root itself under ts-jest, dist/ after `npm run build`. */
export function codeRoot(): string {
  return __filename.endsWith('.ts') ? projectRoot() : path.join(projectRoot(), 'dist');
}
