import { execSync } from 'node:child_process';

/** Child-process tests run the production build, so build it once per test run. */
export default function globalSetup(): void {
  execSync('npm run build --silent', { stdio: 'inherit' });
}
