/** A labelled text input: every control in the console has its visible label. */
export function TextField(props: {
  id: string
  label: string
  value: string
  onValue: (value: string) => void
  type?: 'text' | 'search' | 'password'
  placeholder?: string
  inputMode?: 'tel' | 'text'
  class?: string
}) {
  return (
    <div class={props.class ?? 'field'}>
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        // Preact types each input type apart (a union one value cannot satisfy); all three take text.
        type={(props.type ?? 'text') as 'text'}
        autocomplete="off"
        value={props.value}
        inputMode={props.inputMode}
        placeholder={props.placeholder}
        onInput={(event) => props.onValue(event.currentTarget.value)}
      />
    </div>
  )
}
