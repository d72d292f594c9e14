/** The two containers the delivery scheduler needs to stay O(1)/O(log n) per message. */

/** A FIFO queue with O(1) push and shift (an array with a moving head, compacted now and then). */
export class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head] as T;
    this.items[this.head] = undefined as T; // let the item be collected before compaction
    this.head += 1;
    if (this.head >= 1_024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let index = this.head; index < this.items.length; index += 1) yield this.items[index] as T;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

/** A binary min-heap ordered by `at`, ties broken by insertion order. */
export class TimerHeap<T> {
  private entries: Array<{ at: number; seq: number; value: T }> = [];
  private seq = 0;

  get size(): number {
    return this.entries.length;
  }

  peekAt(): number | undefined {
    return this.entries[0]?.at;
  }

  push(at: number, value: T): void {
    const entries = this.entries;
    entries.push({ at, seq: this.seq++, value });
    let index = entries.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.less(index, parent)) break;
      this.swap(index, parent);
      index = parent;
    }
  }

  /** Removes and returns the earliest value if it is due at or before `now`. */
  popDue(now: number): T | undefined {
    const entries = this.entries;
    const top = entries[0];
    if (!top || top.at > now) return undefined;
    const last = entries.pop() as (typeof entries)[number];
    if (entries.length > 0) {
      entries[0] = last;
      let index = 0;
      for (;;) {
        const left = index * 2 + 1;
        const right = left + 1;
        let smallest = index;
        if (left < entries.length && this.less(left, smallest)) smallest = left;
        if (right < entries.length && this.less(right, smallest)) smallest = right;
        if (smallest === index) break;
        this.swap(index, smallest);
        index = smallest;
      }
    }
    return top.value;
  }

  clear(): void {
    this.entries = [];
  }

  private less(a: number, b: number): boolean {
    const x = this.entries[a] as { at: number; seq: number };
    const y = this.entries[b] as { at: number; seq: number };
    return x.at < y.at || (x.at === y.at && x.seq < y.seq);
  }

  private swap(a: number, b: number): void {
    const entries = this.entries;
    [entries[a], entries[b]] = [entries[b] as (typeof entries)[number], entries[a] as (typeof entries)[number]];
  }
}
