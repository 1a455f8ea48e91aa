/**
 * The Host names a server answers (a defence against DNS rebinding: a web page whose name an
 * attacker points at 127.0.0.1 reaches a loopback server from the victim's browser, but with its
 * own name in `Host`). A server bound to one address answers that address and, on loopback, the
 * loopback names; a server bound to every address (0.0.0.0, ::) cannot know its names and answers
 * any, unless `--allowed-hosts` lists them. `--allowed-hosts` adds names (a DNS name in front of
 * the server, a proxy's). Ports are not compared: the attack changes the name, not the port.
 */
export function hostChecker(
  bindHost: string,
  allowedHosts: string[] = [],
): (hostHeader: string | undefined) => boolean {
  const wildcard = bindHost === '0.0.0.0' || bindHost === '::' || bindHost === '';
  const names = new Set(allowedHosts.map(normalise));
  if (!wildcard) names.add(normalise(bindHost));
  if (isLoopback(bindHost)) for (const name of ['localhost', '127.0.0.1', '::1']) names.add(name);
  if (wildcard && allowedHosts.length === 0) return () => true;
  return (hostHeader) => {
    // A request without Host (HTTP/1.0) is no browser's: rebinding needs one.
    if (hostHeader === undefined || hostHeader === '') return true;
    return names.has(normalise(hostName(hostHeader)));
  };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** `host:port`, `[v6]:port` or a bare name: the name. */
function hostName(header: string): string {
  if (header.startsWith('[')) return header.slice(1, header.indexOf(']'));
  const colon = header.lastIndexOf(':');
  return colon < 0 ? header : header.slice(0, colon);
}

function normalise(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
}
