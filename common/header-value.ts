// NATS header values travel in the message's text preamble: a CR or LF would end the header (nats.js
// refuses such a value and throws), and a long one bloats every copy of the message. Text that comes
// from input (an error message quoting a malformed event, a user's key) goes through here first.

/** Longest header value written, in characters. */
export const MAX_HEADER_VALUE = 1_000;

/** The value with control characters replaced by spaces and cut to `max` characters (with an ellipsis). */
export function cleanHeaderValue(value: string, max = MAX_HEADER_VALUE): string {
  // eslint-disable-next-line no-control-regex
  const clean = value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ');
  return clean.length <= max ? clean : `${clean.slice(0, max - 1)}…`;
}

/** For log lines: the same cleaning, shorter by default, so one hostile event cannot flood a log. */
export function truncateForLog(value: string, max = 200): string {
  return cleanHeaderValue(value, max);
}
