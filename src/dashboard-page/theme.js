/**
 * Dark (default) and light themes. The choice is remembered in localStorage; without one the
 * dashboard config's `theme` applies.
 */
/** Also read by theme-boot.js, which applies it before the first paint. */
const KEY = 'erlmcp-monitor.theme';

/** @returns {'dark' | 'light' | null} the remembered choice */
function stored() {
  try {
    const v = localStorage.getItem(KEY);
    return v === 'dark' || v === 'light' ? v : null;
  } catch {
    return null; // storage disabled
  }
}

export class Theme {
  /**
   * @param {HTMLButtonElement} button the toggle
   * @param {(theme: 'dark' | 'light') => void} onChange after the theme changed
   */
  constructor(button, onChange) {
    this.button = button;
    this.onChange = onChange;
    this.apply(stored() ?? 'dark');
    button.addEventListener('click', () => {
      const next = this.current === 'dark' ? 'light' : 'dark';
      try {
        localStorage.setItem(KEY, next);
      } catch {
        // not remembered; still switched
      }
      this.apply(next);
      this.onChange(next);
    });
  }

  /**
   * Uses the config's theme unless the user picked one.
   * @param {'dark' | 'light' | undefined} theme
   */
  setDefault(theme) {
    if (stored() === null && (theme === 'dark' || theme === 'light') && theme !== this.current) {
      this.apply(theme);
      this.onChange(theme);
    }
  }

  /** @param {'dark' | 'light'} theme */
  apply(theme) {
    this.current = theme;
    document.documentElement.dataset.theme = theme;
    const other = theme === 'dark' ? 'light' : 'dark';
    this.button.setAttribute('aria-label', `Switch to ${other} theme`);
    this.button.setAttribute('title', `Switch to ${other} theme`);
  }
}
