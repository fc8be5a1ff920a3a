// A hang guard, not a timing assumption: integration tests wait for events of real peers, and on a
// shared 2-core CI machine an engine round trip can take seconds (jest's default is 5 s). Tests that
// move larger files set their own, longer bound.
jest.setTimeout(60_000);
