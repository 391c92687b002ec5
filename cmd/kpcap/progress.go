package main

import (
	"sync"
	"time"
)

// ticker redraws a progress line every interval on a goroutine of its own
// until stop, which has it draw the line's end (final) first. Every
// progress line of the CLI runs on one.
type ticker struct {
	done     chan struct{}
	finished chan struct{}
	once     sync.Once
}

func startTicker(interval time.Duration, draw func(now time.Time), final func()) *ticker {
	t := &ticker{done: make(chan struct{}), finished: make(chan struct{})}
	go func() {
		defer close(t.finished)
		tk := time.NewTicker(interval)
		defer tk.Stop()
		for {
			select {
			case <-t.done:
				final()
				return
			case now := <-tk.C:
				draw(now)
			}
		}
	}()
	return t
}

// stop ends the line and waits for its last draw; safe to call more than once.
func (t *ticker) stop() {
	t.once.Do(func() { close(t.done) })
	<-t.finished
}
