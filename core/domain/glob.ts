/**
 * Shell-style globs for one path level: `*` matches any run of characters, `?`
 * exactly one, anything else itself; neither wildcard crosses a `/`.
 *
 * Why not a RegExp: a glob such as `*a*a*a*a*a*a*a*a*a*b` becomes a regular
 * expression that backtracks exponentially (36 `a`s took seconds, and the
 * matching runs while a customer's API call waits). This matcher simulates the
 * glob's automaton instead, every state at once: one pass over the name, each
 * character costing a few operations per 32 pattern characters, whatever the
 * pattern. A 256-character pattern against a 1,024-character name is 1,024
 * steps of 9 words each.
 */

const BITS = 32;

/** A compiled glob: call it with a name. */
export type GlobMatcher = (name: string) => boolean;

export function compileGlob(pattern: string): GlobMatcher {
  // "**" matches what "*" matches: collapsing runs of stars means a star is never
  // followed by another, which the one-step closure below relies on.
  const tokens = Array.from(pattern).filter((token, i, all) => !(token === '*' && all[i - 1] === '*'));
  if (!tokens.some((token) => token === '*' || token === '?')) {
    return (name) => name === pattern;
  }

  // State j means "the first j tokens have matched"; state tokens.length accepts.
  const states = tokens.length + 1;
  const words = Math.ceil(states / BITS);
  const setBit = (mask: Uint32Array, bit: number) => {
    mask[bit >>> 5] = ((mask[bit >>> 5] as number) | (1 << (bit & 31))) >>> 0;
  };
  /** States sitting on a `*`: they stay where they are on any character. */
  const stars = new Uint32Array(words);
  /** States sitting on a `?`: they advance on any character. */
  const anyCharacter = new Uint32Array(words);
  /** Per character of the pattern, the states that advance on it (its own positions and every `?`). */
  const advancingOn = new Map<number, Uint32Array>();
  tokens.forEach((token, state) => {
    if (token === '*') setBit(stars, state);
    else if (token === '?') setBit(anyCharacter, state);
  });
  tokens.forEach((token, state) => {
    if (token === '*' || token === '?') return;
    const code = token.codePointAt(0) as number;
    let mask = advancingOn.get(code);
    if (!mask) {
      mask = Uint32Array.from(anyCharacter);
      advancingOn.set(code, mask);
    }
    setBit(mask, state);
  });
  const acceptWord = (states - 1) >>> 5;
  const acceptBit = 1 << ((states - 1) & 31);

  /** A state on a `*` may also match nothing: it brings the next state along (one step, stars never follow stars). */
  const closeOverStars = (active: Uint32Array) => {
    let carry = 0;
    for (let w = 0; w < words; w++) {
      const onStar = (active[w] as number) & (stars[w] as number);
      active[w] = (active[w] as number) | (onStar << 1) | carry;
      carry = onStar >>> 31;
    }
  };

  return (name) => {
    // Neither wildcard crosses a separator, and no literal of a pattern for one level is one.
    if (name.includes('/')) return false;
    let active = new Uint32Array(words);
    let next = new Uint32Array(words);
    active[0] = 1;
    closeOverStars(active);
    for (let i = 0; i < name.length; i++) {
      // By code point, so `?` is one character also outside the BMP.
      const code = name.codePointAt(i) as number;
      if (code > 0xffff) i++;
      const advancing = advancingOn.get(code) ?? anyCharacter;
      let carry = 0;
      let alive = 0;
      for (let w = 0; w < words; w++) {
        const current = active[w] as number;
        const moving = current & (advancing[w] as number);
        const stays = current & (stars[w] as number);
        const reached = (moving << 1) | carry | stays;
        next[w] = reached;
        carry = moving >>> 31;
        alive |= reached;
      }
      if (alive === 0) return false;
      closeOverStars(next);
      [active, next] = [next, active];
    }
    return ((active[acceptWord] as number) & acceptBit) !== 0;
  };
}
