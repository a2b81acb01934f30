import { Component, computed, signal } from '@angular/core';

@Component({
  selector: 'app-root',
  templateUrl: './app.html',
  styleUrl: './app.css',
})
export class App {
  protected readonly count = signal(0);
  protected readonly unit = computed(() => (this.count() === 1 ? 'time' : 'times'));

  protected increment(): void {
    this.count.update((n) => n + 1);
  }
}
