/** What every view receives from the shell. */
export interface ViewProps {
  /** Rows the view may use. */
  height: number;
  /** Columns the view may use. */
  width: number;
}
