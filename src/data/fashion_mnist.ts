/**
 * Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, https://github.com/zalandoresearch/fashion-mnist):
 * 28×28 grayscale Zalando article images, 10 classes, 60,000 train and 10,000 test, MIT licence.
 * Not shipped with kdkit; read from a directory of the four IDX files (gzipped or not).
 */
import { loadMnistFamily, locateMnistFamily, type TrainTestParts } from './mnist_family.js';

/** Where Debian's `dataset-fashion-mnist` package installs the four gzipped IDX files. */
export const DEFAULT_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export const FASHION_MNIST_CLASS_NAMES: readonly string[] = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

const HOW_TO_GET =
  'Install it with `apt-get install dataset-fashion-mnist` (files go to ' +
  DEFAULT_FASHION_MNIST_DIR +
  '), ' +
  'or pass --data DIR / set dataset.path to a directory holding train-images-idx3-ubyte, train-labels-idx1-ubyte, ' +
  't10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (optionally .gz) from https://github.com/zalandoresearch/fashion-mnist';

export function loadFashionMnist(directory: string = DEFAULT_FASHION_MNIST_DIR): TrainTestParts {
  return loadMnistFamily({
    name: 'fashion-mnist',
    directory,
    classNames: FASHION_MNIST_CLASS_NAMES,
    howToGet: HOW_TO_GET,
  });
}

/** Paths of the four Fashion-MNIST files in `directory`, uncompressed ones first. */
export function locateFashionMnist(directory: string = DEFAULT_FASHION_MNIST_DIR): ReturnType<typeof locateMnistFamily> {
  return locateMnistFamily({ name: 'fashion-mnist', directory, howToGet: HOW_TO_GET });
}
