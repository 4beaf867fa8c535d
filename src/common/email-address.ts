/**
 * One mailbox, `local@domain`, nothing else: letters and digits of any script, RFC 5322's atext
 * symbols (but % and !) and dots before the @, a domain of labels after it. No second @ (a source route: mail for
 * `a@x.org@y.org` goes to y.org; nor % or !, the old relay routes), no spaces, separators, quotes, controls or invisible characters
 * (U+200B, a soft hyphen, U+0085), no look-alike commas.
 */
const LABEL = '[\\p{L}\\p{N}](?:[\\p{L}\\p{N}-]*[\\p{L}\\p{N}])?';
export const ONE_MAILBOX = new RegExp(`^[\\p{L}\\p{N}.#$&'*+/=?^_\`{|}~-]+@${LABEL}(?:\\.${LABEL})*$`, 'u');
