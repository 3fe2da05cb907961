package replay

import (
	"context"

	"github.com/matriz/pipelines/topics"
)

// ScanTopics reads every record each of names held when the scan began,
// from its log start, and calls fn with each, in offset order within a
// partition; fn runs on one goroutine per partition, concurrently across
// partitions, so it must guard what it shares. It returns the names that
// do not exist on the cluster, which it skips. Promotion gates and reports
// read whole lane topics this way, with the cut a diff makes.
func ScanTopics(ctx context.Context, brokers []string, names []string, fn func(topics.Message)) (missing []string, err error) {
	ranges, missing, err := diffRanges(ctx, brokers, names)
	if err != nil {
		return nil, err
	}
	sem := make(chan struct{}, diffReaders)
	for _, n := range names {
		if err := diffScan(ctx, brokers, n, ranges[n], sem, fn); err != nil {
			return missing, err
		}
	}
	return missing, nil
}
