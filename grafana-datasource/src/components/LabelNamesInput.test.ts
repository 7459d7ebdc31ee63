import { labelNameAt } from './LabelNamesInput';

describe('labelNameAt', () => {
  it.each<[string, number | undefined, ReturnType<typeof labelNameAt>]>([
    ['', undefined, { word: '', start: 0 }],
    ['sens', undefined, { word: 'sens', start: 0 }],
    ['sensor_index, si', undefined, { word: 'si', start: 14 }],
    ['sensor_index,si', undefined, { word: 'si', start: 13 }],
    ['sensor_index,   ', undefined, { word: '', start: 16 }],
    // The cursor in the first item of two: only the text before it counts.
    ['sens, site', 4, { word: 'sens', start: 0 }],
    ['$entity', undefined, undefined],
    ['sensor-index', undefined, undefined],
    ['9lives', undefined, undefined],
  ])('%p at %p', (text, cursor, want) => {
    expect(labelNameAt(text, cursor ?? text.length)).toEqual(want);
  });
});
