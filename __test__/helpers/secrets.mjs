// Generated secrets for the leak tests: every kind in crates/core/tests/fixtures/secret-kinds.json (the corpus
// the Rust redaction test uses), expanded with seeded random characters. Nothing generated is a real credential.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const ALPHABETS = {
  A: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789',
  U: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
  L: 'abcdefghijklmnopqrstuvwxyz',
  H: '0123456789abcdef',
  D: '0123456789',
  B: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/',
  W: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
};

/** A small seeded PRNG (mulberry32): the same corpus on every run. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `[{kind, text, parts}]`: `parts` are the random pieces that must never be found anywhere. */
export function secretCorpus(seed = 7) {
  const { kinds } = JSON.parse(readFileSync(join(root, 'crates', 'core', 'tests', 'fixtures', 'secret-kinds.json'), 'utf8'));
  const rnd = prng(seed);
  return kinds.map(([kind, template]) => {
    const parts = [];
    const text = template.replace(/\{([A-Z]):(\d+)\}/g, (_, cls, n) => {
      const abc = ALPHABETS[cls];
      let s = '';
      for (let i = 0; i < Number(n); i++) s += abc[Math.floor(rnd() * abc.length)];
      parts.push(s);
      return s;
    });
    return { kind, text, parts };
  });
}

/** Which of `needles` occur in `haystack` (a string or Buffer). */
export function leaksIn(haystack, needles) {
  const text = Buffer.isBuffer(haystack) ? haystack.toString('latin1') : String(haystack);
  return needles.filter((n) => n && text.includes(n));
}
