// Seeds 1..150 with every fault on (the CI share of the nightly run).
import { describe, it } from 'vitest';
import { expectSeedsPass } from './seed-range.js';

describe('simulator seeds 1..150', () => {
  it('every seed passes every check', () => expectSeedsPass(1, 150), 600_000);
});
