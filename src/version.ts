// The package version, read once from package.json (two levels up from src/ and dist/).
// eslint-disable-next-line @typescript-eslint/no-var-requires
export const VERSION: string = require('../package.json').version;
