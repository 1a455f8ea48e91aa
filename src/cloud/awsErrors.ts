import { type ErrorCode, PlaytallyError } from '../ops/errors.js';

/**
 * An AWS request whose failure becomes one clear error: `cannot <what>: <SDK error name>: <its
 * message>`, with the code that sets the exit status (a sink's failure is exit 4, a source's 3).
 */
export async function guarded<T>(
  code: ErrorCode,
  what: string,
  details: Record<string, unknown>,
  request: () => Promise<T>,
): Promise<T> {
  try {
    return await request();
  } catch (error) {
    throw awsError(code, what, details, error);
  }
}

export function awsError(
  code: ErrorCode,
  what: string,
  details: Record<string, unknown>,
  error: unknown,
): PlaytallyError {
  const e = error as Error;
  const name = e.name && e.name !== 'Error' ? `${e.name}: ` : '';
  return new PlaytallyError(code, `cannot ${what}: ${name}${e.message}`, details);
}
