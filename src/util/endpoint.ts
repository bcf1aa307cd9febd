/**
 * Where the remote teacher connects and what it may say about it. Credentials travel in headers
 * whose values come from environment variables and are never written anywhere; a URL carrying
 * them (user:password@, a query, a fragment) is refused, and every URL that is printed or
 * written goes through `redactUrl` first.
 */
import { InputError } from '../errors.js';

/** A header whose value is read from an environment variable, as the config gives it. */
export interface HeaderFromEnv {
  env: string;
  /** Put before the variable's value, e.g. 'Bearer '. */
  prefix: string;
}

/** `url` with the user and password, query values and fragment replaced by ***; unparseable text is cut at its first sign of them. */
export function redactUrl(url: string | URL): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return String(url)
      .replace(/\/\/[^/?#]*@/, '//***@')
      .replace(/[?#].*$/, '?***');
  }
  if (parsed.username !== '' || parsed.password !== '') {
    parsed.username = '***';
    parsed.password = '';
  }
  // Parameter names stay: they tell which one to move to a header.
  if (parsed.search !== '') parsed.search = [...parsed.searchParams.keys()].map((key) => `${encodeURIComponent(key)}=***`).join('&');
  if (parsed.hash !== '') parsed.hash = '***';
  return parsed.href;
}

/** What keeps `url` from being a remote teacher's address, or undefined; `url` appears redacted. */
export function endpointProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `${redactUrl(url)} is not a URL; expected e.g. http://127.0.0.1:8000`;
  }
  const shown = redactUrl(parsed);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return `${shown} must be http:// or https://`;
  const useHeaders =
    "give them in headers, e.g. headers: {Authorization: {env: KSERVE_TOKEN, prefix: 'Bearer '}}, so they are never written to logs, reports or the soft-label store";
  if (parsed.username !== '' || parsed.password !== '') return `${shown} holds credentials; ${useHeaders}`;
  if (parsed.search !== '')
    return `${shown} has a query string; kdkit does not send one (it would be written wherever the URL is): ${useHeaders}`;
  if (parsed.hash !== '') return `${shown} has a fragment; give the server's base URL alone`;
  return undefined;
}

/**
 * The server's base URL, ending in '/' so that relative paths resolve below it (a server mounted
 * under a prefix works). `source` names the field in errors.
 */
export function endpointUrl(url: string, source: string): URL {
  const problem = endpointProblem(url);
  if (problem !== undefined) throw new InputError(`${source}: url ${problem}`);
  const base = new URL(url);
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  return base;
}

/** scheme://host[:port]/path/: the endpoint as it identifies the teacher (new URL drops a default port and lower-cases the host). */
export function endpointIdentity(base: URL): string {
  return `${base.protocol}//${base.host}${base.pathname}`;
}

/** RFC 9110's token: what fetch takes as a header name. */
const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Why `name` cannot be a header name, or undefined. */
export function headerNameProblem(name: string): string | undefined {
  return headerName.test(name) ? undefined : `header name '${name}' is not an HTTP token`;
}

/**
 * Header values from the environment. An unset variable, or a value fetch would refuse, is an
 * InputError naming the header and the variable, never the value. `field` names the headers in errors.
 */
export function resolveHeaders(
  headers: Record<string, HeaderFromEnv>,
  env: Record<string, string | undefined>,
  field: string,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).map(([name, { env: variable, prefix }]) => {
      const value = env[variable];
      if (value === undefined || value === '')
        throw new InputError(`${field}.${name}: the environment variable ${variable} is not set; it holds the header's value`);
      const problem = headerValueProblem(prefix + value);
      if (problem !== undefined) throw new InputError(`${field}.${name}: the value from ${variable} ${problem}`);
      return [name, prefix + value];
    }),
  );
}

/** Checks names and values before fetch sees them: fetch's own errors quote the value. */
export function checkHeaders(headers: Record<string, string>, source: string): void {
  for (const [name, value] of Object.entries(headers)) {
    const nameProblem = headerNameProblem(name);
    if (nameProblem !== undefined) throw new InputError(`${source}: ${nameProblem}`);
    const valueProblem = headerValueProblem(value);
    if (valueProblem !== undefined) throw new InputError(`${source}: header ${name}: the value ${valueProblem}`);
  }
}

function headerValueProblem(value: string): string | undefined {
  // fetch refuses CR, LF and NUL, and anything past Latin-1; other control characters are no header value either.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what this check looks for.
  return /[\0-\x08\x0a-\x1f\x7f]|[^\0-\xff]/.test(value)
    ? 'has a line break or control character, or a character outside Latin-1'
    : undefined;
}
