/**
 * An error in one line, with what caused it: "GET https://… failed: connect ECONNREFUSED 127.0.0.1:8443". Follows
 * `cause` (a message already containing its cause's is not repeated), and says what an AggregateError holds: Node
 * reports a refused connection to a name with several addresses (localhost: ::1 and 127.0.0.1) as one with an empty
 * message.
 */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  for (let current = error; current !== undefined && current !== null && !seen.has(current); current = causeOf(current)) {
    seen.add(current);
    const text = describeOne(current);
    if (text !== '' && !parts.some((part) => part.includes(text))) parts.push(text);
  }
  return parts.length === 0 ? 'unknown error' : parts.join(': ');
}

function causeOf(error: unknown): unknown {
  return error instanceof Error ? error.cause : undefined;
}

function describeOne(error: unknown): string {
  if (!(error instanceof Error)) return typeof error === 'string' ? error : (JSON.stringify(error) ?? String(error));
  if (error instanceof AggregateError && error.errors.length > 0) {
    const inner = [...new Set(error.errors.map(describeOne))].join('; ');
    return error.message === '' ? inner : `${error.message} (${inner})`;
  }
  if (error.message !== '') return error.message;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : error.name;
}
