// Seeds 151..300 with every fault on (the CI share of the nightly run).
import { describe, it } from 'vitest';
import { expectSeedsPass } from './seed-range.js';

describe('simulator seeds 151..300', () => {
  it('every seed passes every check', () => expectSeedsPass(151, 300), 600_000);
});
